package dev.loomdb.edge.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.util.Base64;
import java.util.List;

/** Ed25519 keys made at test time, written and configured the way an operator does it (docs/operations.md). */
public final class SigningKeys {

    private SigningKeys() {}

    public static KeyPair generate() {
        try {
            return KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A private key as {@code openssl genpkey} writes it (PKCS#8 PEM). */
    public static String privatePem(KeyPair pair) {
        return "-----BEGIN PRIVATE KEY-----\n"
                + Base64.getMimeEncoder().encodeToString(pair.getPrivate().getEncoded())
                + "\n-----END PRIVATE KEY-----\n";
    }

    /** The public key as a trust list holds it: the base64 body of {@code openssl pkey -pubout}. */
    public static String publicBase64(KeyPair pair) {
        return Base64.getEncoder().encodeToString(pair.getPublic().getEncoded());
    }

    /**
     * Gives each node a key of its own (a PEM file in its working directory) and every node a trust list
     * of all of them; signing is turned on. Call before the nodes start.
     */
    public static void trustEachOther(List<NodeProcess> nodes) throws IOException {
        List<KeyPair> keys = nodes.stream().map(n -> generate()).toList();
        for (int i = 0; i < nodes.size(); i++) {
            NodeProcess node = nodes.get(i);
            Path file = node.workDir().resolve("node-key.pem");
            Files.createDirectories(file.getParent());
            Files.writeString(file, privatePem(keys.get(i)));
            node.with("loom.security.signing.enabled", "true")
                    .with("loom.security.signing.private-key-file", file.toString());
            for (int j = 0; j < nodes.size(); j++) {
                node.with("loom.security.signing.trust." + nodes.get(j).nodeId(), publicBase64(keys.get(j)));
            }
        }
    }
}
