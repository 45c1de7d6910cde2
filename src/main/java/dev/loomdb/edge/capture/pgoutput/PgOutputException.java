package dev.loomdb.edge.capture.pgoutput;

/** A pgoutput message that does not follow the protocol; the reason says where. */
public class PgOutputException extends RuntimeException {
    public PgOutputException(String reason) {
        super(reason);
    }
}
