package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * TLS and passwords to the broker, with certificates made at test time (openssl): nodes on the embedded
 * broker's TLS listener with users, and nodes on a Mosquitto the test starts with a TLS listener. A plain
 * MQTT client, a client without a password and a node that does not trust the broker's CA are kept out.
 */
class TlsBrokerIT {

    private static final Duration SYNC = Duration.ofSeconds(30);
    private static final String STORE_PASSWORD = "changeit-0123";

    @RegisterExtension
    final Mesh embedded =
            Mesh.named("tls").nodes("hub", "peer", "stranger").hostedBroker().unstarted();

    @RegisterExtension
    final Mesh external = Mesh.named("tls-mosquitto").nodes("x", "y").unstarted();

    /** A CA, and a certificate it signed for 127.0.0.1, in {@code dir}; returns the directory. */
    private static Path certificates(Path dir, String name) throws Exception {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("san.ext"), "subjectAltName=IP:127.0.0.1\n");
        run(
                dir,
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-subj",
                "/CN=" + name + "-ca",
                "-days",
                "2");
        run(
                dir,
                "openssl",
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1");
        run(
                dir,
                "openssl",
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "san.ext");
        run(
                dir,
                "openssl",
                "pkcs12",
                "-export",
                "-in",
                "server.pem",
                "-inkey",
                "server.key",
                "-out",
                "server.p12",
                "-passout",
                "pass:" + STORE_PASSWORD,
                "-name",
                "broker");
        for (String file : List.of("ca.pem", "server.pem", "server.key", "server.p12")) {
            Files.setPosixFilePermissions(dir.resolve(file), PosixFilePermissions.fromString("rw-r--r--"));
        }
        return dir;
    }

    private static void run(Path dir, String... command) throws Exception {
        Process process = new ProcessBuilder(command)
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .start();
        String output = new String(process.getInputStream().readAllBytes());
        assertTrue(process.waitFor(30, TimeUnit.SECONDS), String.join(" ", command));
        assertEquals(0, process.exitValue(), String.join(" ", command) + ": " + output);
    }

    private static NodeProcess tls(NodeProcess node, Path ca, String user, String password) {
        node.with("loom.mqtt.tls.enabled", "true").with("loom.mqtt.tls.trust-store", ca.toString());
        if (user != null) {
            node.with("loom.mqtt.username", user).with("loom.mqtt.password", password);
        }
        return node;
    }

    private static void syncs(NodeProcess from, NodeProcess to, String id) {
        from.api().body("{\"type\":\"T\"}").put("/api/nodes/" + id).then().statusCode(201);
        await().atMost(SYNC).until(() -> to.api().get("/api/nodes/" + id).statusCode() == 200);
    }

    @Test
    void nodesSyncOverTheEmbeddedBrokersTlsListenerWithPasswords() throws Exception {
        NodeProcess hub = embedded.node("hub");
        NodeProcess peer = embedded.node("peer");
        NodeProcess stranger = embedded.node("stranger");
        Path certs = certificates(hub.workDir().resolve("certs"), "tls");
        Path otherCa =
                certificates(hub.workDir().resolve("other-certs"), "other").resolve("ca.pem");
        tls(hub, certs.resolve("ca.pem"), "hub", "hub-password-1")
                .with(
                        "loom.embedded.broker.tls.key-store",
                        certs.resolve("server.p12").toString())
                .with("loom.embedded.broker.tls.key-store-password", STORE_PASSWORD)
                .with("loom.embedded.broker.users.hub", "hub-password-1")
                .with("loom.embedded.broker.users.peer", "peer-password-2")
                .start()
                .awaitReady();
        tls(peer, certs.resolve("ca.pem"), "peer", "peer-password-2").start().awaitReady();
        syncs(hub, peer, "tls-1");
        syncs(peer, hub, "tls-2");

        int port = embedded.brokerPort();
        assertThrows(Exception.class, () -> new MqttProbe("127.0.0.1", port, null).close(), "plain MQTT");

        tls(stranger, otherCa, "peer", "peer-password-2").start();
        await().atMost(SYNC).until(() -> stranger.log().contains("Cannot reach the MQTT broker"));
        assertTrue(stranger.log().contains("loom.mqtt.tls.trust-store"), stranger.logTail());
        assertEquals(false, stranger.api().get("/api/sync/status").jsonPath().getBoolean("brokerConnected"));
    }

    @Test
    void nodesSyncThroughAMosquittoWithATlsListener() throws Exception {
        NodeProcess x = external.node("x");
        NodeProcess y = external.node("y");
        Path dir = x.workDir().resolve("mosquitto");
        Path certs = certificates(dir.resolve("certs"), "mosquitto");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(certs, PosixFilePermissions.fromString("rwxr-xr-x"));
        int port = Infra.freePort();
        Path conf = dir.resolve("mosquitto.conf");
        Files.write(
                conf,
                List.of(
                        "listener " + port + " 127.0.0.1",
                        "allow_anonymous true",
                        "cafile " + certs.resolve("ca.pem"),
                        "certfile " + certs.resolve("server.pem"),
                        "keyfile " + certs.resolve("server.key")));
        Process mosquitto = new ProcessBuilder("mosquitto", "-c", conf.toString())
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("mosquitto.log").toFile())
                .start();
        try {
            await().atMost(Duration.ofSeconds(10)).until(() -> listening(port));
            // x's REST API also answers over HTTPS, with the same test CA's certificate
            int httpsPort = Infra.freePort();
            x.with("quarkus.http.ssl-port", Integer.toString(httpsPort))
                    .with(
                            "quarkus.tls.key-store.pem.0.cert",
                            certs.resolve("server.pem").toString())
                    .with(
                            "quarkus.tls.key-store.pem.0.key",
                            certs.resolve("server.key").toString());
            for (NodeProcess node : List.of(x, y)) {
                tls(node, certs.resolve("ca.pem"), null, null)
                        .with("loom.embedded.broker", "false")
                        .with("loom.mqtt.host", "127.0.0.1")
                        .with("loom.mqtt.port", Integer.toString(port))
                        .start()
                        .awaitReady();
            }
            syncs(x, y, "tls-m-1");
            assertThrows(Exception.class, () -> new MqttProbe("127.0.0.1", port, null).close(), "plain MQTT");
            java.security.KeyStore trust = java.security.KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            try (var in = Files.newInputStream(certs.resolve("ca.pem"))) {
                trust.setCertificateEntry(
                        "ca",
                        java.security.cert.CertificateFactory.getInstance("X.509")
                                .generateCertificate(in));
            }
            javax.net.ssl.TrustManagerFactory managers = javax.net.ssl.TrustManagerFactory.getInstance(
                    javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
            managers.init(trust);
            javax.net.ssl.SSLContext tls = javax.net.ssl.SSLContext.getInstance("TLS");
            tls.init(null, managers.getTrustManagers(), null);
            java.net.http.HttpClient client =
                    java.net.http.HttpClient.newBuilder().sslContext(tls).build();
            java.net.http.HttpResponse<String> answer = client.send(
                    java.net.http.HttpRequest.newBuilder(
                                    java.net.URI.create("https://127.0.0.1:" + httpsPort + "/api/sync/status"))
                            .build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            assertEquals(200, answer.statusCode());
            assertTrue(answer.body().contains(x.nodeId()), answer.body());
            // a client that does not trust the node's CA gets no answer
            assertThrows(
                    javax.net.ssl.SSLHandshakeException.class,
                    () -> java.net.http.HttpClient.newHttpClient()
                            .send(
                                    java.net.http.HttpRequest.newBuilder(java.net.URI.create(
                                                    "https://127.0.0.1:" + httpsPort + "/api/nodes"))
                                            .build(),
                                    java.net.http.HttpResponse.BodyHandlers.ofString()));

        } finally {
            for (NodeProcess node : List.of(x, y)) {
                node.stop();
            }
            mosquitto.destroy();
            mosquitto.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static boolean listening(int port) {
        try (java.net.Socket ignored = new java.net.Socket("127.0.0.1", port)) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
