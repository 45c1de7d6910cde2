package dev.loomdb.edge.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import io.smallrye.config.WithName;
import io.smallrye.config.WithParentName;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The node's own settings, all under {@code loom.}; each can be set as an environment variable the
 * MicroProfile way ({@code loom.mqtt.host} is {@code LOOM_MQTT_HOST}). The embedded services'
 * settings are also read by {@code dev.loomdb.edge.Main} before Quarkus starts.
 */
@ConfigMapping(prefix = "loom")
public interface LoomConfig {

    /** This node's id in the mesh: unique per node, stable across restarts. Default: the HOSTNAME variable. */
    @WithName("node-id")
    @WithDefault("${HOSTNAME:edge-node}")
    String nodeId();

    /** The mesh this node syncs with: nodes of one mesh share one graph. Default {@code default}. */
    @WithDefault("default")
    String mesh();

    Mqtt mqtt();

    Debounce debounce();

    Conflict conflict();

    Tombstone tombstone();

    Capture capture();

    @WithName("circuit-breaker")
    CircuitBreaker circuitBreaker();

    History history();

    Sync sync();

    Apply apply();

    Api api();

    Security security();

    Feed feed();

    /**
     * The change feed: every change recorded in the change history (local ones once the broker has them,
     * remote ones once applied) sent on the Reactive Messaging channel {@code loom-feed}, at least once,
     * in the order recorded, resuming after a restart from the last one acknowledged downstream.
     */
    interface Feed {
        /** Send the change feed on {@code loom-feed} (turns the change history on). Default false. */
        @WithDefault("false")
        boolean enabled();

        /** Also send every sync event (remote-change, conflict-detected, ...) on {@code loom-events}, dropped when it lags. Default false. */
        @WithDefault("false")
        boolean events();

        /** Changes sent and not yet acknowledged downstream, at most (1..1000). Default 256. */
        @WithName("max-in-flight")
        @WithDefault("256")
        int maxInFlight();

        /** How often the history is read for new entries when the feed has caught up. Default 200ms. */
        @WithName("poll-interval")
        @WithDefault("200ms")
        Duration pollInterval();

        /** How long a hole in the history's numbering is waited for (a transaction still committing) before it is passed over. Default 2s. */
        @WithName("gap-wait")
        @WithDefault("2s")
        Duration gapWait();

        /** Entries the history keeps for a feed whose downstream is away; beyond it the oldest are dropped and counted. Default 1000000. */
        @WithName("max-backlog")
        @WithDefault("1000000")
        long maxBacklog();

        /** How long a change sent may go without an answer downstream before it is sent again. Default 30s. */
        @WithName("ack-timeout")
        @WithDefault("30s")
        Duration ackTimeout();

        /** First wait before resending after a downstream failure; doubles up to 30s. Default 1s. */
        @WithName("retry-interval")
        @WithDefault("1s")
        Duration retryInterval();
    }

    /** Trust between nodes. */
    interface Security {
        Signing signing();

        Encryption encryption();

        /** End-to-end encryption of messages with a mesh key (AES-256-GCM): the broker sees only ciphertext. */
        interface Encryption {
            /** The id of the key new messages are encrypted with; unset: messages are not encrypted. */
            @WithName("active-key")
            Optional<String> activeKey();

            /** Every key this node decrypts with, by id: 32 random bytes in base64 (openssl rand -base64 32). */
            Map<String, String> keys();
        }

        /** Every message signed by its node (Ed25519), every message received verified against a trust list. */
        interface Signing {
            /** Sign what this node publishes and refuse what is not signed by a trusted node. Default false. */
            @WithDefault("false")
            boolean enabled();

            /** {@code ed25519}: per-node keys and a trust list; {@code hmac}: one mesh-wide key (HMAC-SHA256). Default ed25519. */
            @WithDefault("ed25519")
            String mode();

            /** The mesh-wide key of the hmac mode: 32 random bytes or more, base64 (openssl rand -base64 32). */
            @WithName("hmac-key")
            Optional<String> hmacKey();

            /** This node's Ed25519 private key: a PKCS#8 PEM file (openssl genpkey -algorithm ed25519). */
            @WithName("private-key-file")
            Optional<String> privateKeyFile();

            /** The public key of each trusted node by node id: the base64 body of openssl pkey -pubout. */
            Map<String, String> trust();

            /** How much older than the newest message of a node one of its messages may be before it is refused as replayed. Default 1h. */
            @WithName("replay-window")
            @WithDefault("1h")
            Duration replayWindow();
        }
    }

    /** Bounds of the graph queries (neighbours, traversal, path, statistics). */
    Query query();

    Embedded embedded();

    /** The embedded PostgreSQL and MQTT broker of the one-machine default. */
    interface Embedded {

        Postgres postgres();

        Broker broker();

        interface Postgres {
            /** Start an embedded PostgreSQL (wal_level=logical) instead of using quarkus.datasource.reactive.url. Default true. */
            @WithParentName
            @WithDefault("true")
            boolean enabled();

            /** Its data directory, kept across restarts. Default {@code loom-data/postgres}. */
            @WithName("data-dir")
            @WithDefault("loom-data/postgres")
            String dataDir();

            /** Its port on 127.0.0.1. Default 15432. */
            @WithDefault("15432")
            int port();
        }

        interface Broker {
            /** Run an MQTT broker (MQTT 3.1.1) inside the node; loom.mqtt.host/port then point to it. Default true. */
            @WithParentName
            @WithDefault("true")
            boolean enabled();

            /** Its port. Default 1883. */
            @WithDefault("1883")
            int port();

            /** The address it listens on. Default 127.0.0.1; 0.0.0.0 lets peers on other machines connect. */
            @WithDefault("127.0.0.1")
            String host();

            /** Where it keeps persistent sessions and queued messages. Default {@code loom-data/broker}. */
            @WithName("data-dir")
            @WithDefault("loom-data/broker")
            String dataDir();

            /**
             * Which broker: {@code loom} (the node's own, on Vert.x' MQTT server: it writes what it acknowledges to its
             * log first, so a killed node loses nothing) or {@code moquette} (Moquette 0.17, which saves every
             * autosave-interval). Default loom.
             */
            @WithDefault("loom")
            String engine();

            /**
             * QoS 1 messages it keeps queued for one client's session, at most; beyond, the oldest are dropped with a
             * warning (anti-entropy brings a node what it missed). Default 100000. The loom broker only.
             */
            @WithName("max-queued")
            @WithDefault("100000")
            int maxQueued();

            /**
             * Payload bytes it keeps queued for one client's session, at most (it holds them in memory); beyond, the
             * oldest are dropped as for max-queued. Default 67108864 (64 MiB). The loom broker only.
             */
            @WithName("max-queued-bytes")
            @WithDefault("67108864")
            long maxQueuedBytes();

            /**
             * The loom broker: how often it puts its log on the disk (a killed node loses nothing; a power cut at most
             * this). Moquette: how often it saves sessions and queued messages; what it acknowledged after the last
             * save is lost if the node dies without stopping (the node then publishes its own changes since that save
             * again). Default 1s (at least 1s).
             */
            @WithName("autosave-interval")
            @WithDefault("1s")
            Duration autosaveInterval();

            /**
             * How long it keeps the session (subscriptions and queued messages) of a client that stays away; a node
             * back later finds its session gone and is brought up to date by anti-entropy. Default 7d (1s to 24d).
             */
            /** TLS on its port instead of plain MQTT: a PKCS#12 (.p12) or JKS key store with its certificate and key. */
            @WithName("tls.key-store")
            Optional<String> tlsKeyStore();

            /** The key store's password. */
            @WithName("tls.key-store-password")
            Optional<String> tlsKeyStorePassword();

            /** Users and their passwords; with any, clients without one are refused. */
            Map<String, String> users();

            @WithName("session-expiry")
            @WithDefault("7d")
            Duration sessionExpiry();
        }
    }

    /** How this node reaches its MQTT broker. */
    interface Mqtt {
        /** Broker host. Default 127.0.0.1 (the embedded broker, when on, is used automatically). */
        @WithDefault("127.0.0.1")
        String host();

        /** Broker port. Default 1883. */
        @WithDefault("1883")
        int port();

        /**
         * Broker servers to fail over between, in order ({@code host:port}, {@code tls://host:port}, comma-separated):
         * the node connects to the first that answers and moves on to the next when it is lost. Unset: host and port.
         */
        Optional<List<String>> servers();

        /** User name for the broker, if it wants one. */
        Optional<String> username();

        /** Password for the broker, if it wants one. */
        Optional<String> password();

        /**
         * Compress (Deflate) a message of at least this many bytes when that makes it smaller; 0 never does.
         * Default 0 (messages stay readable JSON on the broker).
         */
        @WithName("compress-above")
        @WithDefault("0")
        int compressAbove();

        /** TLS to the broker. */
        Tls tls();

        interface Tls {
            /** Connect with TLS, verifying the broker's certificate. Default false. */
            @WithDefault("false")
            boolean enabled();

            /** The CA certificates to trust: a PEM file (.pem, .crt) or a PKCS#12 (.p12) or JKS key store; default the JVM's. */
            @WithName("trust-store")
            Optional<String> trustStore();

            /** The trust store's password (PKCS#12 or JKS). */
            @WithName("trust-store-password")
            Optional<String> trustStorePassword();

            /** This node's client certificate and key, a PKCS#12 (.p12) or JKS key store, for brokers that ask for one. */
            @WithName("key-store")
            Optional<String> keyStore();

            /** The key store's password. */
            @WithName("key-store-password")
            Optional<String> keyStorePassword();

            /** Check that the broker's certificate names the host connected to. Default true. */
            @WithName("verify-host")
            @WithDefault("true")
            boolean verifyHost();
        }

        /** MQTT client id. Default {@code loom-<mesh>-<node-id>}; it must stay the same across restarts. */
        @WithName("client-id")
        Optional<String> clientId();

        /** Published transactions waiting for the broker's acknowledgement, at most. Default 256. */
        @WithName("max-inflight")
        @WithDefault("256")
        int maxInflight();

        /** Largest MQTT message sent or accepted, in bytes. Default 16 MiB. */
        @WithName("max-message-size")
        @WithDefault("16777216")
        int maxMessageSize();

        /** Wait between reconnection attempts to the broker. Default 1s. */
        @WithName("reconnect-interval")
        @WithDefault("1s")
        Duration reconnectInterval();
    }

    /** How concurrent writes to one node or edge are decided; the same on every node of a mesh. */
    interface Conflict {
        /** last-write-wins (hybrid logical clock, node id breaks ties) or highest-version. Default last-write-wins. */
        @WithDefault("last-write-wins")
        String strategy();

        /** Per node/edge type overrides: loom.conflict.types.AGENT=highest-version. Default none. */
        Map<String, String> types();

        /**
         * Decide concurrent writes by the strategy (true), or keep each concurrent incoming state aside as a
         * conflict to resolve through /api/conflicts (false). Default true.
         */
        @WithName("auto-resolve")
        @WithDefault("true")
        boolean autoResolve();
    }

    /** How long deletes are remembered. */
    interface CircuitBreaker {
        /** Failed applies of one peer's messages in a row that open its breaker (its messages are then parked). Default 5. */
        @WithDefault("5")
        int threshold();

        /** How long a peer's breaker stays open before a trial apply (half-open). Default 30s. */
        @WithDefault("30s")
        Duration reset();
    }

    interface History {
        /** Keep the change history (local changes published, remote changes applied) in PostgreSQL. Default false. */
        @WithDefault("false")
        boolean enabled();

        /** The newest entries kept; older ones are removed as new ones come. Default 1000. */
        @WithName("max-entries")
        @WithDefault("1000")
        int maxEntries();
    }

    /** How a peer's messages are applied. */
    interface Apply {
        /**
         * How long the broker acknowledgements of applied messages may wait for one WAL flush that covers
         * them all: the apply session then commits without waiting for its flush, and one synchronous commit
         * at most every interval (or every 8 messages) makes what was applied durable before it is
         * acknowledged. {@code 0}: every apply commit waits for its own flush. Default 1ms.
         */
        @WithName("flush-interval")
        @WithDefault("1ms")
        Duration flushInterval();
    }

    interface Sync {
        /** How often parked messages are tried, counters saved and the replication lag sampled. Default 1s. */
        @WithName("housekeeping-interval")
        @WithDefault("1s")
        Duration housekeepingInterval();

        /** Most rejected messages kept in loom.rejected_messages; the oldest are dropped (and counted). Default 10000. */
        @WithName("rejected-max")
        @WithDefault("10000")
        int rejectedMax();

        Bootstrap bootstrap();

        @WithName("anti-entropy")
        AntiEntropy antiEntropy();

        /**
         * The node types this node receives from the mesh, comma-separated: {@code *} every type, {@code -}
         * none. The broker filters by them (one topic per type). Default {@code *}.
         */
        @WithName("node-types")
        @WithDefault("*")
        List<String> nodeTypes();

        /** The edge types this node receives from the mesh, as {@code node-types}. Default {@code *}. */
        @WithName("edge-types")
        @WithDefault("*")
        List<String> edgeTypes();

        Publish publish();

        /** What this node publishes of its own writes; types left out stay on this node. */
        interface Publish {
            /** Node types this node publishes: {@code *} every type, {@code -} none. Default {@code *}. */
            @WithName("node-types")
            @WithDefault("*")
            List<String> nodeTypes();

            /** Edge types this node publishes, as {@code node-types}. Default {@code *}. */
            @WithName("edge-types")
            @WithDefault("*")
            List<String> edgeTypes();
        }

        /** A new node takes the mesh's graph from a peer before it is ready. */
        interface Bootstrap {
            /** Take the graph from a peer when this node never had it (a new database). Default true. */
            @WithParentName
            @WithDefault("true")
            boolean enabled();

            /** Rows per page of the transfer (and per envelope of rows sent by anti-entropy). Default 5000. */
            @WithName("page-size")
            @WithDefault("5000")
            int pageSize();

            /**
             * How long a new node waits, not ready, for a peer that holds the graph to come online; then it
             * is ready without it and bootstraps when one comes. Default 30s.
             */
            @WithName("wait")
            @WithDefault("30s")
            Duration peerWait();
        }

        /** Nodes compare digests of their state with one peer at a time and mend what differs. */
        interface AntiEntropy {
            /** How often a round runs (also soon after each reconnection); 0 turns the periodic rounds off. Default 2m. */
            @WithDefault("2m")
            Duration interval();

            /** How long a state-sync request waits for the peer's answer. Default 30s. */
            @WithDefault("30s")
            Duration timeout();

            /**
             * Keep each row's digest hash in a stored column that PostgreSQL computes on every write, so
             * that a round costs a pass over numbers instead of hashing the whole graph; false computes
             * them on every round instead (cheaper writes, dearer rounds). Default true.
             */
            @WithName("stored-hashes")
            @WithDefault("true")
            boolean storedHashes();
        }
    }

    interface Tombstone {
        /**
         * Tombstones whose clock is older than this are purged, and a message with a change older than
         * this is rejected (it could bring back a purged row). Default 7d.
         */
        @WithDefault("7d")
        Duration retention();

        /** How often tombstones past the retention are purged. Default 1h. */
        @WithName("purge-interval")
        @WithDefault("1h")
        Duration purgeInterval();
    }

    /** Folding bursts of changes before they go out (the seed's debounceMs). */
    interface Debounce {
        /** How long a window gathers transactions after the first; 0 sends every transaction alone. Default 100ms. */
        @WithParentName
        @WithDefault("100ms")
        Duration window();

        /** A window closes early when it holds this many changes. Default 10000. */
        @WithName("max-changes")
        @WithDefault("10000")
        int maxChanges();

        /** A window closes early when its changes reach about this many bytes. Default 4 MiB. */
        @WithName("max-bytes")
        @WithDefault("4194304")
        long maxBytes();
    }

    /** How changes are read from PostgreSQL. */
    interface Capture {
        /** Replication slot name. Default {@code loom_<node-id>} (lower case, [a-z0-9_]). */
        @WithName("slot")
        Optional<String> slot();

        /** Publication of the graph tables. Default {@code loom_graph}. */
        @WithDefault("loom_graph")
        String publication();

        /**
         * JDBC URL of the replication connection. Default: derived from
         * {@code quarkus.datasource.reactive.url}.
         */
        @WithName("jdbc-url")
        Optional<String> jdbcUrl();

        /**
         * How often a heartbeat (pg_logical_emit_message) goes through the slot, so that an idle graph still
         * confirms progress and PostgreSQL can recycle WAL written by other databases. 0 turns it off. Default 10s.
         */
        @WithName("heartbeat-interval")
        @WithDefault("10s")
        Duration heartbeatInterval();

        /** How often progress is confirmed to the slot at most. Default 200ms. */
        @WithName("confirm-interval")
        @WithDefault("200ms")
        Duration confirmInterval();

        /**
         * How many captured transactions may wait between the capture thread and the publisher. When
         * full, capture stops reading (the changes wait in the slot) and keeps sending its status. Default 1024.
         */
        @WithName("handoff-capacity")
        @WithDefault("1024")
        int handoffCapacity();

        /**
         * Retained WAL (written since the slot's confirmed position) above which the node warns, naming
         * max_slot_wal_keep_size; the warning repeats each time it doubles. Default 1073741824 (1 GiB).
         */
        @WithName("wal-warning-bytes")
        @WithDefault("1073741824")
        long walWarningBytes();
    }

    /** REST API limits. */
    interface Api {
        /** Largest request body accepted, in bytes; larger ones get 413. Default 1 MiB. */
        @WithName("max-body-size")
        @WithDefault("1048576")
        long maxBodySize();

        /** Default page size of list requests. Default 100. */
        @WithName("default-limit")
        @WithDefault("100")
        int defaultLimit();

        /** Largest page size of list requests. Default 1000. */
        @WithName("max-limit")
        @WithDefault("1000")
        int maxLimit();

        /** Most operations one POST /api/batch may hold; more get 413. Default 1000. */
        @WithName("max-batch-operations")
        @WithDefault("1000")
        int maxBatchOperations();

        Auth auth();

        /** Who may call /api: API keys, each with a role (read, write or admin). */
        interface Auth {
            /**
             * Require an API key on /api. Default: on, except in the one-machine default (embedded
             * PostgreSQL), where the node says at start that its API is open.
             */
            Optional<Boolean> enabled();

            /** API keys by name: the secret a client sends (Authorization: Bearer, or X-API-Key). */
            Map<String, String> keys();

            /** The role of each key by the same name: read, write (and read) or admin (everything). Default read. */
            Map<String, String> roles();
        }
    }

    /** Bounds of the graph queries: every query stops at them, never runs away. */
    interface Query {
        /** Deepest traversal or longest path, in hops, a request may ask for. Default 6. */
        @WithName("max-depth")
        @WithDefault("6")
        int maxDepth();

        /**
         * Most nodes a traversal returns and most neighbours a request may ask for; a path search gives
         * up after visiting this many nodes on either side. Default 10000.
         */
        @WithName("max-results")
        @WithDefault("10000")
        int maxResults();

        /** Longest a query may run in PostgreSQL (each statement, and a traversal or path search in all). Default 5s. */
        @WithDefault("5s")
        Duration timeout();

        /** How long the counts of /api/graph/stats are reused before they are counted again. Default 30s. */
        @WithName("stats-max-age")
        @WithDefault("30s")
        Duration statsMaxAge();
    }
}
