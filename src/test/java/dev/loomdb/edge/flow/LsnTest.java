package dev.loomdb.edge.flow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LsnTest {

    @Test
    void printsAndParsesLikePostgres() {
        Lsn lsn = Lsn.parse("16/B374D848");
        assertEquals(0x16B374D848L, lsn.value());
        assertEquals("16/B374D848", lsn.toString());
    }

    @Test
    void comparesByPosition() {
        assertTrue(Lsn.parse("1/0").isAfter(Lsn.parse("0/FFFFFFFF")));
        assertEquals(Lsn.parse("1/0"), Lsn.max(Lsn.parse("0/5"), Lsn.parse("1/0")));
    }
}
