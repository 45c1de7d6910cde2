package dev.loomdb.edge.mesh;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.netty.buffer.Unpooled;
import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class PayloadBytesTest {

    private static final byte[] ENVELOPE = "{\"v\":1,\"origin\":\"a\",\"changes\":[]}".getBytes(StandardCharsets.UTF_8);

    @Test
    void aMessageInAnArrayOfItsOwnIsNotCopied() {
        byte[] array = ENVELOPE.clone();
        Buffer payload = Buffer.buffer(Unpooled.wrappedBuffer(array));
        assertSame(array, MeshLink.payloadBytes(payload));
    }

    @Test
    void aMessageThatIsPartOfALargerBufferIsCopiedExactly() {
        byte[] larger = new byte[ENVELOPE.length + 10];
        System.arraycopy(ENVELOPE, 0, larger, 5, ENVELOPE.length);
        Buffer payload = Buffer.buffer(Unpooled.wrappedBuffer(larger, 5, ENVELOPE.length));
        byte[] bytes = MeshLink.payloadBytes(payload);
        assertNotSame(larger, bytes);
        assertArrayEquals(ENVELOPE, bytes);

        Buffer spare = Buffer.buffer(Unpooled.buffer(1024).writeBytes(ENVELOPE)); // capacity beyond the bytes
        assertArrayEquals(ENVELOPE, MeshLink.payloadBytes(spare));
        Buffer direct = Buffer.buffer(Unpooled.directBuffer().writeBytes(ENVELOPE));
        assertArrayEquals(ENVELOPE, MeshLink.payloadBytes(direct));
    }
}
