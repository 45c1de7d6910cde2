package dev.loomdb.edge.graph;

import dev.loomdb.edge.config.LoomConfig;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.jboss.logging.Logger;

/**
 * Who may call the API ({@code loom.api.auth.*}): API keys, each with a role. {@code read} reads the graph
 * and the sync status and events; {@code write} also writes nodes and edges (single requests and batches);
 * {@code admin} also controls sync, resolves conflicts, reads and replays the history and runs anti-entropy.
 * On unless the node runs the one-machine default (embedded PostgreSQL), where it says at start that the
 * API is open and how to close it.
 */
@ApplicationScoped
public class ApiAccess {

    private static final Logger LOG = Logger.getLogger(ApiAccess.class);

    /** What a request needs, in order: each role may do what the ones before it may. */
    public enum Role {
        READ,
        WRITE,
        ADMIN;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** An API key: its name (for logs) and role. */
    public record Key(String name, Role role, byte[] secret) {}

    private final boolean enabled;
    private final Map<String, Key> keys = new LinkedHashMap<>();

    public ApiAccess(LoomConfig config) {
        LoomConfig.Api.Auth auth = config.api().auth();
        this.enabled = auth.enabled().orElse(!config.embedded().postgres().enabled());
        auth.keys().forEach((name, secret) -> {
            String role = auth.roles().getOrDefault(name, "read").trim().toUpperCase(Locale.ROOT);
            Role parsed;
            try {
                parsed = Role.valueOf(role);
            } catch (IllegalArgumentException e) {
                throw new IllegalStateException("loom.api.auth.roles." + name + " is '"
                        + auth.roles().get(name) + "'; a role is read, write or admin.");
            }
            if (secret.length() < 16) {
                throw new IllegalStateException("loom.api.auth.keys." + name + " has " + secret.length()
                        + " characters; use a secret of at least 16 (e.g. openssl rand -hex 24).");
            }
            keys.put(name, new Key(name, parsed, secret.getBytes(StandardCharsets.UTF_8)));
        });
        for (String name : auth.roles().keySet()) {
            if (!auth.keys().containsKey(name)) {
                throw new IllegalStateException(
                        "loom.api.auth.roles." + name + " names no key: set loom.api.auth.keys." + name + " too.");
            }
        }
    }

    void announce(@Observes StartupEvent start) {
        if (!enabled) {
            LOG.warn("The REST API (/api) is open: anyone who can reach this node's HTTP port can read and change"
                    + " its graph (loom.api.auth.enabled=false, the one-machine default). To close it, set"
                    + " loom.api.auth.enabled=true and an API key: loom.api.auth.keys.<name>=<secret> and"
                    + " loom.api.auth.roles.<name>=read|write|admin.");
        } else if (keys.isEmpty()) {
            LOG.warn("The REST API requires an API key (loom.api.auth.enabled) but none is configured: every /api"
                    + " request is refused with 401. Set loom.api.auth.keys.<name>=<secret> and"
                    + " loom.api.auth.roles.<name>=read|write|admin.");
        } else {
            LOG.infof(
                    "The REST API requires an API key: %d configured (%s).",
                    keys.size(),
                    String.join(
                            ", ",
                            keys.values().stream()
                                    .map(k -> k.name() + "=" + k.role().label())
                                    .toList()));
        }
    }

    public boolean enabled() {
        return enabled;
    }

    /** The key whose secret this is, or null; compares every key in constant time. */
    public Key find(String secret) {
        byte[] given = secret.getBytes(StandardCharsets.UTF_8);
        Key found = null;
        for (Key key : keys.values()) {
            if (MessageDigest.isEqual(key.secret(), given)) {
                found = key;
            }
        }
        return found;
    }

    /** The role a request needs, or null for none (outside /api). */
    public static Role needed(String method, String path) {
        if (!path.equals("/api") && !path.startsWith("/api/")) {
            return null;
        }
        for (String admin : new String[] {
            "/api/sync/stop",
            "/api/sync/start",
            "/api/sync/history",
            "/api/sync/anti-entropy",
            "/api/sync/rejected",
            "/api/conflicts"
        }) {
            if (path.equals(admin) || path.startsWith(admin + "/")) {
                return Role.ADMIN;
            }
        }
        return method.equals("GET") || method.equals("HEAD") || method.equals("OPTIONS") ? Role.READ : Role.WRITE;
    }
}
