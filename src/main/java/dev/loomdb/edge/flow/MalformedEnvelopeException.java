package dev.loomdb.edge.flow;

/** A message from the mesh that is not a valid envelope; the reason says what is wrong with it. */
public class MalformedEnvelopeException extends Exception {
    public MalformedEnvelopeException(String reason) {
        super(reason);
    }
}
