package dev.loomdb.edge.flow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import org.junit.jupiter.api.Test;

class HlcTest {

    @Test
    void printsAndParsesAsTheDecimalNumberTheDatabaseWrites() {
        Hlc clock = Hlc.parse("117672777673998336");
        assertEquals(117672777673998336L, clock.value());
        assertEquals("117672777673998336", clock.toString());
    }

    @Test
    void holdsTheWriteTimeInMillisecondsAndACounter() {
        Instant time = Instant.parse("2026-12-01T10:15:30.123Z");
        Hlc third = new Hlc(Hlc.at(time).value() + 2);
        assertEquals(time, third.time());
        assertEquals(2, third.counter());
        assertTrue(Hlc.at(time).isBefore(third));
        assertEquals(third, Hlc.max(third, Hlc.at(time)));
    }

    @Test
    void aHorizonIsThatLongBeforeNow() {
        Hlc horizon = Hlc.horizon(java.time.Duration.ofDays(7));
        Instant weekAgo = Instant.now().minus(java.time.Duration.ofDays(7));
        assertTrue(Math.abs(horizon.time().toEpochMilli() - weekAgo.toEpochMilli()) < 5_000);
        assertEquals(0, horizon.counter());
    }
}
