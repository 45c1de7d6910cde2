package dev.loomdb.edge.flow;

/**
 * A message received from the broker. {@link #ack} sends the QoS 1 acknowledgement: call it only
 * once the message is applied or kept aside, so that the broker redelivers it otherwise.
 */
public record Delivery(String topic, byte[] payload, Runnable ack) {

    /**
     * Acknowledges the message; says false when the connection it came on is gone, in which case the
     * broker delivers it again on the next one.
     */
    public boolean acknowledge() {
        try {
            ack.run();
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }
}
