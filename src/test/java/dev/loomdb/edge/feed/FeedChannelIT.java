package dev.loomdb.edge.feed;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loomdb.edge.it.InProcessNode;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.RestAssured;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The change feed read by code packaged with the node ({@link FeedReader}, {@code @Incoming("loom-feed")}):
 * every change written, in the order recorded, acknowledged as the method returns; and the bound that
 * keeps a reader that is away from holding the history without end: past {@code loom.feed.max-backlog}
 * the oldest entries are dropped, counted in {@code feed.skipped}, and the feed goes on with the rest.
 */
@QuarkusTest
@WithTestResource(InProcessNode.class)
@TestProfile(FeedChannelIT.FeedOn.class)
class FeedChannelIT {

    private static final Duration BOUND = Duration.ofSeconds(60);

    public static class FeedOn implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "loom.feed.enabled", "true",
                    "loom.history.max-entries", "5",
                    "loom.feed.max-backlog", "5",
                    "loom.feed.retry-interval", "200ms",
                    "loom.feed.gap-wait", "500ms",
                    "loom.feed.poll-interval", "50ms");
        }
    }

    @Inject
    FeedReader reader;

    private static void put(String id, int n) {
        RestAssured.given()
                .contentType("application/json")
                .body("{\"type\":\"Feed\",\"properties\":{\"n\":" + n + "}}")
                .put("/api/nodes/" + id)
                .then()
                .statusCode(201);
    }

    private static JsonPath feedStatus() {
        return RestAssured.get("/api/sync/status").jsonPath().setRootPath("feed");
    }

    private Set<String> takenIds() {
        return reader.taken().stream()
                .map(m -> m.path("change").path("id").asText())
                .collect(Collectors.toSet());
    }

    @Test
    void incomingCodeReadsEveryChangeInOrderAndAReaderAwayIsBoundedByTheBacklog() {
        for (int i = 1; i <= 3; i++) {
            put("fc-" + i, i);
        }
        await("the three changes read by the @Incoming method")
                .atMost(BOUND)
                .until(() -> takenIds().containsAll(Set.of("fc-1", "fc-2", "fc-3")));
        List<JsonNode> taken = reader.taken();
        for (int i = 1; i < taken.size(); i++) {
            assertTrue(
                    taken.get(i).path("seq").asLong()
                            > taken.get(i - 1).path("seq").asLong(),
                    "in the order recorded: " + taken);
        }
        JsonNode first = taken.get(0);
        assertEquals("local", first.path("direction").asText());
        assertEquals("Feed", first.path("change").path("type").asText());
        long lastSeq = taken.get(taken.size() - 1).path("seq").asLong();
        await("the feed's position at the last change read (acknowledged as the method returned)")
                .atMost(BOUND)
                .until(() -> feedStatus().getLong("position") >= lastSeq);
        assertEquals(0, feedStatus().getLong("skipped"));

        // the reader is away: the history keeps what it has not acknowledged, but only 5 behind the newest
        reader.refuse(true);
        put("while-away-1", 1);
        await("the feed finds its reader away").atMost(BOUND).until(() -> reader.refused() > 0);
        for (int i = 2; i <= 20; i++) {
            put("while-away-" + i, i);
        }
        reader.refuse(false);
        await("the newest changes read once the reader is back")
                .atMost(BOUND)
                .until(() -> takenIds().contains("while-away-20"));
        await("the oldest of the backlog dropped and counted")
                .atMost(BOUND)
                .until(() -> feedStatus().getLong("skipped") > 0);
        long skipped = feedStatus().getLong("skipped");
        long read = reader.taken().stream()
                .map(m -> m.path("change").path("id").asText())
                .filter(id -> id.startsWith("while-away-"))
                .distinct()
                .count();
        assertEquals(
                20,
                read + skipped,
                "every change of the backlog was read or counted as skipped: " + read + " read, " + skipped
                        + " skipped");
        assertTrue(read >= 5, "the newest entries within the backlog were kept: " + read);
        assertTrue(feedStatus().getLong("failures") > 0, "the refusals are counted");
    }
}
