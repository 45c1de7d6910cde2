package dev.loomdb.edge.embedded;

/** An embedded service could not start; the message says what to change. */
public class EmbeddedStartException extends RuntimeException {
    public EmbeddedStartException(String message) {
        super(message);
    }

    public EmbeddedStartException(String message, Throwable cause) {
        super(message, cause);
    }
}
