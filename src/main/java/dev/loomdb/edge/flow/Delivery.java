package dev.loomdb.edge.flow;

/**
 * A message received from the broker. {@link #ack} sends the QoS 1 acknowledgement: call it only
 * once the message is applied or kept aside, so that the broker redelivers it otherwise.
 */
public record Delivery(String topic, byte[] payload, Runnable ack) {}
