package dev.loomdb.edge.flow;

/**
 * The wire form of an {@link Envelope}: what the mesh publishes and what the inbound dispatcher
 * reads back (from the broker, or from a message parked earlier).
 */
public interface EnvelopeFormat {

    byte[] encode(Envelope envelope);

    /** Reads an envelope, or says in one sentence why the bytes are not one. */
    Envelope decode(byte[] payload) throws MalformedEnvelopeException;
}
