package dev.loomdb.edge.capture;

import dev.loomdb.edge.flow.Lsn;

/**
 * How often capture has failed to decode the message at one position. Reading it again after a
 * reconnect helps when the failure was transient; the same message failing {@link #ATTEMPTS} times
 * in a row will fail forever, and capture stops instead of reconnecting every second. Pure logic.
 */
final class DecodeFailures {

    static final int ATTEMPTS = 5;

    private Lsn at;
    private int attempts;

    /** A message at {@code position} could not be decoded; true when that was the last attempt. */
    synchronized boolean failedAt(Lsn position) {
        if (position.equals(at)) {
            attempts++;
        } else {
            at = position;
            attempts = 1;
        }
        return attempts >= ATTEMPTS;
    }

    synchronized int attempts() {
        return attempts;
    }

    /** A message after the failing one was read: whatever it was, it passed. */
    synchronized void readPast(Lsn position) {
        if (at != null && position.isAfter(at)) {
            clear();
        }
    }

    synchronized void clear() {
        at = null;
        attempts = 0;
    }
}
