package dev.loomdb.edge.capture;

/** Capture cannot start; the message says what to change in PostgreSQL or in the settings. */
public class CaptureStartException extends RuntimeException {
    public CaptureStartException(String message, Throwable cause) {
        super(message, cause);
    }
}
