package dev.loomdb.edge.capture.pgoutput;

import dev.loomdb.edge.flow.Lsn;

/** A pgoutput message that does not follow the protocol; the reason says where. */
public class PgOutputException extends RuntimeException {

    private final transient Lsn lsn;

    public PgOutputException(String reason) {
        this(reason, null);
    }

    private PgOutputException(String reason, Lsn lsn) {
        super(reason);
        this.lsn = lsn;
    }

    /** The same failure, with the position of the message in the WAL. */
    public PgOutputException at(Lsn position) {
        PgOutputException located = new PgOutputException(getMessage(), position);
        located.setStackTrace(getStackTrace());
        return located;
    }

    /** Where the message sits in the WAL, when known. */
    public Lsn lsn() {
        return lsn;
    }
}
