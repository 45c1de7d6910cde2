package dev.loomdb.edge.embedded;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * How clients reach an embedded broker: TLS with the certificate of a key store (PKCS#12 or JKS) instead of plain
 * MQTT on its port, and users with passwords instead of anonymous clients.
 */
public record BrokerSecurity(Optional<Path> keyStore, String keyStorePassword, Map<String, String> users) {
    public static final BrokerSecurity OPEN = new BrokerSecurity(Optional.empty(), "", Map.of());
}
