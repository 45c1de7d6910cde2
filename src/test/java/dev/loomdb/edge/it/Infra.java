package dev.loomdb.edge.it;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.UUID;
import org.flywaydb.core.Flyway;

/**
 * Which real PostgreSQL and broker the integration tests use, chosen by the system property
 * {@code loom.it.infra}: {@code embedded} (the default: every node starts its own PostgreSQL, a
 * node or the test runs the broker) or {@code external} (the machine's PostgreSQL on
 * 127.0.0.1:5432 with wal_level=logical, and Mosquitto on 127.0.0.1:1883).
 */
public final class Infra {

    public static final String EXTERNAL_PG = "jdbc:postgresql://127.0.0.1:5432/";
    public static final String EXTERNAL_BROKER_HOST = "127.0.0.1";
    public static final int EXTERNAL_BROKER_PORT = 1883;

    private Infra() {}

    public static boolean external() {
        return "external".equals(System.getProperty("loom.it.infra", "embedded"));
    }

    /** The broker host the nodes of a test use: the machine's Mosquitto, or a node's embedded broker on loopback. */
    public static String brokerHost() {
        return external() ? EXTERNAL_BROKER_HOST : "127.0.0.1";
    }

    /**
     * The broker port: Mosquitto's 1883, or a free port for a node to embed its broker on; with {@code
     * -Dloom.it.broker=nats|rabbitmq}, the MQTT port of a broker of that kind this test JVM runs.
     */
    public static int brokerPort() {
        if (!external()) {
            return freePort();
        }
        return broker().equals("mosquitto") ? EXTERNAL_BROKER_PORT : SharedBroker.PORT;
    }

    /** Which broker the external suite runs against: {@code mosquitto} (the default), {@code nats} or {@code rabbitmq}. */
    public static String broker() {
        String broker = System.getProperty("loom.it.broker", "mosquitto");
        if (!List.of("mosquitto", "nats", "rabbitmq").contains(broker)) {
            throw new IllegalArgumentException("loom.it.broker is mosquitto, nats or rabbitmq, not " + broker);
        }
        return broker;
    }

    /** One broker of the chosen kind for every test of this JVM, stopped when the JVM ends. */
    private static final class SharedBroker {
        static final int PORT;

        static {
            StandaloneBroker broker = new StandaloneBroker(workDir("shared-" + broker()));
            try {
                broker.start();
            } catch (IOException | InterruptedException e) {
                throw new IllegalStateException("could not start the " + broker() + " broker: " + e, e);
            }
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    broker.close();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
            PORT = broker.port();
        }
    }

    public static String suffix() {
        return UUID.randomUUID().toString().substring(0, 8);
    }

    /** Ports handed out lie below the kernel's ephemeral range (32768 and up on Linux). */
    static final int FIRST_PORT = 20000;

    static final int LAST_PORT = 32000;

    /**
     * A port no other caller in this build has been given and that nothing listens on now. Ports come
     * in turn from a counter in {@code target/it/ports}, shared under a file lock by every test JVM of
     * the build, and lie below the kernel's ephemeral range: a port the kernel picked for {@code new
     * ServerSocket(0)} is free only until the kernel picks it again, for another JVM's probe or for the
     * local end of any outgoing connection, and a node that starts a few seconds later then finds it
     * taken. Synchronized because a JVM may hold one lock on a file at a time, whichever thread asks.
     */
    public static synchronized int freePort() {
        Path counter = Path.of("target", "it", "ports").toAbsolutePath();
        try {
            Files.createDirectories(counter.getParent());
            try (FileChannel channel = FileChannel.open(
                            counter, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
                    FileLock ignored = channel.lock()) {
                ByteBuffer buffer = ByteBuffer.allocate(4);
                int next = channel.read(buffer, 0) == 4 ? buffer.flip().getInt() : FIRST_PORT;
                for (int tried = 0; tried <= LAST_PORT - FIRST_PORT; tried++) {
                    int port = next;
                    next = port >= LAST_PORT ? FIRST_PORT : port + 1;
                    if (bindable(port)) {
                        channel.write(ByteBuffer.allocate(4).putInt(0, next), 0);
                        return port;
                    }
                }
                throw new IllegalStateException(
                        "no free port between " + FIRST_PORT + " and " + LAST_PORT + " on 127.0.0.1");
            }
        } catch (IOException e) {
            throw new IllegalStateException("could not hand out a port through " + counter + ": " + e, e);
        }
    }

    private static boolean bindable(int port) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress("127.0.0.1", port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    public static Path workDir(String name) {
        try {
            Path dir = Path.of("target", "it", name + "-" + suffix()).toAbsolutePath();
            Files.createDirectories(dir);
            return dir;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Creates the schema loom and applies the node's migrations with Flyway, as the node does at start,
     * to the database {@code connection} is on (trust auth, as on every test server).
     */
    public static void applyMigrations(Connection connection) throws SQLException {
        Flyway.configure()
                .dataSource(
                        connection.getMetaData().getURL(),
                        connection.getMetaData().getUserName(),
                        "")
                .schemas("loom")
                .createSchemas(true)
                .locations("filesystem:src/main/resources/db/migration")
                .load()
                .migrate();
    }

    /** Creates a database on the machine's PostgreSQL (external mode). */
    public static void createExternalDatabase(String name) {
        try (Connection c = DriverManager.getConnection(EXTERNAL_PG + "postgres", "postgres", "");
                Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create database " + name + ": " + e.getMessage(), e);
        }
    }

    /**
     * Drops a test database, its replication slots and a node's replication origin from the machine's
     * PostgreSQL, so no WAL is kept for them.
     */
    public static void dropExternalDatabase(String name, String origin) {
        try (Connection c = DriverManager.getConnection(EXTERNAL_PG + "postgres", "postgres", "");
                Statement s = c.createStatement()) {
            if (origin != null) {
                s.execute("SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = '"
                        + origin + "'");
            }
            s.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '" + name
                    + "' AND NOT active");
            s.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
        } catch (SQLException e) {
            System.err.println("could not drop test database " + name + ": " + e.getMessage());
        }
    }
}
