package dev.loomdb.edge.embedded;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;

/** Fails start-up early, naming the setting to change, when a port an embedded service needs is taken. */
final class PortCheck {

    private PortCheck() {}

    static void requireFree(String host, int port, String what, String setting) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(InetAddress.getByName(host), port));
        } catch (IOException e) {
            throw new EmbeddedStartException(
                    "port " + port + " on " + host + " is already in use, so the embedded " + what
                            + " cannot start. Choose another port with " + setting + " (environment variable "
                            + setting.toUpperCase().replaceAll("[.-]", "_") + "), or stop what is listening there.");
        }
    }
}
