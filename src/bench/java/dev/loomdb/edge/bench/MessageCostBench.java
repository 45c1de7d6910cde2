package dev.loomdb.edge.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.mesh.EnvelopeCodec;
import dev.loomdb.edge.mesh.PayloadCodec;
import dev.loomdb.edge.mesh.Signatures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * What compression, encryption and signing cost per message and what compression saves, on the envelopes
 * the node publishes: the seed example's graph (16 nodes, 35 edges, one envelope per batch) and a graph of
 * 100,000 nodes with sensor-like properties in windows of 100 changes. Each figure against the plain
 * envelope measured in the same run: bytes on the wire, and microseconds of CPU per message to wrap and
 * sign, and to verify and unwrap.
 */
class MessageCostBench {

    private static final String TOPIC = "loom/bench/changes/node-a/node/SENSOR";
    private static final int ROUNDS = 5;

    private static List<byte[]> seedExample(EnvelopeCodec codec) {
        List<byte[]> envelopes = new ArrayList<>();
        long hlc = System.currentTimeMillis() << 16;
        for (int i = 1; i <= 5; i++) {
            List<Change> changes = List.of(
                    node(
                            "fact-" + i,
                            "FACT",
                            "{\"text\": \"Water boils at " + (90 + i) + " degrees Celsius at " + (i * 1000)
                                    + " m.\", \"position\": " + i + "}",
                            hlc + i),
                    edge("fact-" + i + "-from", "EXTRACTED_FROM", "fact-" + i, "doc-boiling", hlc + i),
                    edge("fact-" + i + "-by", "PRODUCED", "agent-extractor", "fact-" + i, hlc + i));
            envelopes.add(codec.encode(new Envelope(1, "bench", "node-a", i, i, "0/" + i, Instant.now(), 1, changes)));
            List<Change> evaluation = new ArrayList<>();
            evaluation.add(node(
                    "eval-fact-" + i,
                    "EVALUATION",
                    "{\"met\": {\"concise\": true, \"has-a-number\": true,"
                            + " \"names-a-unit\": true}, \"of\": 3, \"score\": 3}",
                    hlc + 10 + i));
            for (String criterion : List.of("has-a-number", "names-a-unit", "concise")) {
                evaluation.add(edge(
                        "eval-fact-" + i + "-" + criterion,
                        "APPLIES",
                        "eval-fact-" + i,
                        "criterion-" + criterion,
                        hlc + 10 + i));
            }
            envelopes.add(
                    codec.encode(new Envelope(1, "bench", "node-b", i, i, "0/" + i, Instant.now(), 1, evaluation)));
        }
        return envelopes;
    }

    private static List<byte[]> sensors(EnvelopeCodec codec) {
        Random random = new Random(7);
        List<byte[]> envelopes = new ArrayList<>();
        long hlc = System.currentTimeMillis() << 16;
        for (int window = 0; window < 1000; window++) {
            List<Change> changes = new ArrayList<>(100);
            for (int i = 0; i < 100; i++) {
                int n = window * 100 + i;
                changes.add(node(
                        "sensor-" + n,
                        "SENSOR",
                        String.format(
                                Locale.ROOT,
                                "{\"site\": \"plant-%d\", \"unit\": \"celsius\", \"value\": %.2f, \"ok\": %b, \"tags\": [\"line-%d\"]}",
                                n % 40,
                                15 + random.nextDouble() * 20,
                                random.nextInt(10) > 0,
                                n % 12),
                        hlc + n));
            }
            envelopes.add(
                    codec.encode(new Envelope(1, "bench", "node-a", window, window, "0/1", Instant.now(), 1, changes)));
        }
        return envelopes;
    }

    private static Change node(String id, String type, String properties, long hlc) {
        return new Change(
                Change.Op.INSERT, Change.Kind.NODE, id, type, properties, null, null, hlc, 1, "node-a", false);
    }

    private static Change edge(String id, String type, String source, String target, long hlc) {
        return new Change(Change.Op.INSERT, Change.Kind.EDGE, id, type, "{}", source, target, hlc, 1, "node-a", false);
    }

    @Test
    void compressionEncryptionAndSigningPerMessage() throws Exception {
        EnvelopeCodec codec = new EnvelopeCodec(new ObjectMapper());
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        Map<String, String> keys = Map.of("k1", Base64.getEncoder().encodeToString(key));
        KeyPair pair = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        Path pem = Files.createTempFile("bench-key", ".pem");
        Files.writeString(
                pem,
                "-----BEGIN PRIVATE KEY-----\n"
                        + Base64.getEncoder().encodeToString(pair.getPrivate().getEncoded())
                        + "\n-----END PRIVATE KEY-----\n");
        Signatures signatures = Signatures.load(
                "node-a",
                pem,
                Map.of(
                        "node-a",
                        Base64.getEncoder().encodeToString(pair.getPublic().getEncoded())),
                Duration.ofHours(1));
        PayloadCodec compress = new PayloadCodec(256, null, Map.of(), 64 << 20);
        PayloadCodec encrypt = new PayloadCodec(0, "k1", keys, 64 << 20);
        PayloadCodec both = new PayloadCodec(256, "k1", keys, 64 << 20);

        System.out.printf(Locale.ROOT, "%nMessage costs (no broker, one thread)%n");
        for (Map.Entry<String, List<byte[]>> graph :
                List.of(Map.entry("seed example", seedExample(codec)), Map.entry("100,000 sensors", sensors(codec)))) {
            List<byte[]> messages = graph.getValue();
            long plain = messages.stream().mapToLong(m -> m.length).sum();
            long compressed = messages.stream()
                    .mapToLong(m -> compress.wrap(TOPIC, m).length)
                    .sum();
            long sealed = messages.stream()
                    .mapToLong(m -> signatures.sign(both.wrap(TOPIC, m)).length)
                    .sum();
            System.out.printf(
                    Locale.ROOT,
                    "  %s: %d messages, %,d bytes plain, %,d compressed (%.3f), %,d compressed +"
                            + " encrypted + signed (%.3f)%n",
                    graph.getKey(),
                    messages.size(),
                    plain,
                    compressed,
                    (double) compressed / plain,
                    sealed,
                    (double) sealed / plain);
            BenchResults.add(
                    graph.getKey() + ": bytes compressed / plain",
                    new double[] {compressed},
                    new double[] {plain},
                    "plain JSON envelopes",
                    "bytes",
                    "Deflate above 256 bytes");
            BenchResults.add(
                    graph.getKey() + ": bytes compressed+encrypted+signed / plain",
                    new double[] {sealed},
                    new double[] {plain},
                    "plain JSON envelopes",
                    "bytes",
                    "what the broker carries");

            double[] baseline = new double[ROUNDS];
            double[] signOnly = new double[ROUNDS];
            double[] jdkSignOnly = new double[ROUNDS];
            double[] sealAll = new double[ROUNDS];
            double[] openAll = new double[ROUNDS];
            double[] encryptOnly = new double[ROUNDS];
            for (int round = 0; round < ROUNDS; round++) {
                baseline[round] =
                        micros(messages, m -> codec.decode(m).changes().size());
                signOnly[round] = micros(
                        messages,
                        m -> signatures
                                .check("node-a", signatures.sign(m), false)
                                .payload()
                                .length);
                jdkSignOnly[round] = micros(messages, m -> jdkSignAndVerify(pair, m));
                encryptOnly[round] = micros(messages, m -> encrypt.unwrap(TOPIC, encrypt.wrap(TOPIC, m)).length);
                sealAll[round] = micros(messages, m -> signatures.sign(both.wrap(TOPIC, m)).length);
                List<byte[]> wire = messages.stream()
                        .map(m -> signatures.sign(both.wrap(TOPIC, m)))
                        .toList();
                openAll[round] = micros(
                        wire,
                        m -> both.unwrap(
                                        TOPIC,
                                        signatures.check("node-a", m, false).payload())
                                .length);
            }
            BenchResults.add(
                    graph.getKey() + ": sign + verify, µs per message",
                    signOnly,
                    baseline,
                    "decoding the envelope",
                    "µs",
                    "Ed25519");
            BenchResults.add(
                    graph.getKey() + ": sign + verify (the node's, Bouncy Castle) against the JDK's Ed25519, µs",
                    signOnly,
                    jdkSignOnly,
                    "the JDK's Ed25519 provider, same message",
                    "µs",
                    "Ed25519");
            BenchResults.add(
                    graph.getKey() + ": encrypt + decrypt, µs per message",
                    encryptOnly,
                    baseline,
                    "decoding the envelope",
                    "µs",
                    "AES-256-GCM");
            BenchResults.add(
                    graph.getKey() + ": compress + encrypt + sign, µs per message",
                    sealAll,
                    baseline,
                    "decoding the envelope",
                    "µs",
                    "the sender's cost");
            BenchResults.add(
                    graph.getKey() + ": verify + decrypt + inflate, µs per message",
                    openAll,
                    baseline,
                    "decoding the envelope",
                    "µs",
                    "the receiver's cost");
        }
    }

    /** Signs the message with the JDK's own Ed25519 and verifies it: what the node did before. */
    private static int jdkSignAndVerify(KeyPair pair, byte[] message) throws Exception {
        java.security.Signature signer = java.security.Signature.getInstance("Ed25519");
        signer.initSign(pair.getPrivate());
        signer.update(message);
        byte[] signature = signer.sign();
        java.security.Signature verifier = java.security.Signature.getInstance("Ed25519");
        verifier.initVerify(pair.getPublic());
        verifier.update(message);
        return verifier.verify(signature) ? signature.length : -1;
    }

    private interface Work {
        int run(byte[] message) throws Exception;
    }

    /** Microseconds per message, after a warm-up pass. */
    private static double micros(List<byte[]> messages, Work work) throws Exception {
        long sink = 0;
        for (byte[] m : messages) {
            sink += work.run(m);
        }
        long started = System.nanoTime();
        for (int repeat = 0; repeat < 3; repeat++) {
            for (byte[] m : messages) {
                sink += work.run(m);
            }
        }
        if (sink == 42) {
            System.out.print("");
        }
        return (System.nanoTime() - started) / 1e3 / (3.0 * messages.size());
    }
}
