package dev.loomdb.edge.telemetry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.smallrye.mutiny.helpers.test.AssertSubscriber;
import io.smallrye.mutiny.subscription.BackPressureFailure;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The in-process event stream that embedding code subscribes to (the README's Mutiny example). */
class SyncEventsTest {

    @Test
    void subscribersAndTheListenerSeeEveryEventInOrderFromTheirSubscriptionOn() {
        SyncEvents events = new SyncEvents();
        List<SyncEvent> heard = new ArrayList<>();
        events.listener(heard::add);
        events.emit(SyncEvent.of(SyncEvent.Kind.SYNC_STARTED, null, "before anyone subscribed"));

        AssertSubscriber<SyncEvent> watcher = events.stream().subscribe().withSubscriber(AssertSubscriber.create(10));
        events.emit(SyncEvent.of(SyncEvent.Kind.SYNC_CONNECTED, null, "one"));
        events.emit(SyncEvent.of(SyncEvent.Kind.CIRCUIT_OPEN, "node-b", "two"));

        assertEquals(
                List.of("one", "two"),
                watcher.getItems().stream().map(SyncEvent::detail).toList());
        assertEquals("node-b", watcher.getItems().get(1).peer());
        assertEquals(3, heard.size(), "the listener (CDI forwarding) hears every event");
        assertNull(watcher.getFailure());
    }

    @Test
    void aWatcherThatFallsTooFarBehindLosesItsStreamAndSyncGoesOn() {
        SyncEvents events = new SyncEvents();
        AssertSubscriber<SyncEvent> stalled = events.stream().subscribe().withSubscriber(AssertSubscriber.create(0));
        AssertSubscriber<SyncEvent> keepingUp =
                events.stream().subscribe().withSubscriber(AssertSubscriber.create(Long.MAX_VALUE));

        for (int i = 0; i <= SyncEvents.BUFFER; i++) { // one more than the stalled watcher's buffer holds
            events.emit(SyncEvent.of(SyncEvent.Kind.REMOTE_CHANGE, "node-a", Integer.toString(i)));
        }

        assertInstanceOf(BackPressureFailure.class, stalled.getFailure());
        assertEquals(1, events.overflows());
        assertEquals(SyncEvents.BUFFER + 1, keepingUp.getItems().size());
        assertNull(keepingUp.getFailure());
    }
}
