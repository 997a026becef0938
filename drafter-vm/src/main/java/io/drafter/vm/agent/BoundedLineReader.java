package io.drafter.vm.agent;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.LongConsumer;

/**
 * Lines ({@code \n}-terminated, UTF-8) from a channel whose other end is not trusted: a line is held only up to
 * {@code maxLineBytes}; a longer one is read through and dropped without being buffered, and reported to
 * {@code onSkipped} with its length. Memory stays below {@code maxLineBytes} plus an 8 KiB read buffer whatever the
 * peer sends.
 *
 * <p><b>Note:</b> not thread-safe; one reading thread.
 */
final class BoundedLineReader {
    private final ReadableByteChannel channel;
    private final int maxLineBytes;
    private final LongConsumer onSkipped;
    private final ByteBuffer in = ByteBuffer.allocate(8192).flip();
    private byte[] line;
    private int length;
    /** Bytes of the line being skipped so far, or -1 while the current line still fits. */
    private long skipping = -1;

    private int peakBufferBytes;

    BoundedLineReader(ReadableByteChannel channel, int maxLineBytes, LongConsumer onSkipped) {
        this.channel = channel;
        this.maxLineBytes = maxLineBytes;
        this.onSkipped = onSkipped;
        this.line = new byte[Math.min(256, maxLineBytes)];
    }

    /** The next line that fits, without its {@code \n}; {@code null} at the end of the stream. */
    String readLine() throws IOException {
        while (true) {
            while (in.hasRemaining()) {
                byte b = in.get();
                if (skipping >= 0) {
                    if (b == '\n') {
                        onSkipped.accept(skipping);
                        skipping = -1;
                    } else {
                        skipping++;
                    }
                } else if (b == '\n') {
                    return take();
                } else if (length == maxLineBytes) {
                    // Too long: what was held goes, the rest of the line is only counted.
                    skipping = length + 1L;
                    length = 0;
                    line = new byte[Math.min(256, maxLineBytes)];
                } else {
                    if (length == line.length) {
                        line = Arrays.copyOf(line, Math.min(maxLineBytes, line.length * 2));
                        peakBufferBytes = Math.max(peakBufferBytes, line.length);
                    }
                    line[length++] = b;
                }
            }
            in.clear();
            int n = channel.read(in);
            in.flip();
            if (n < 0) {
                if (skipping >= 0) {
                    onSkipped.accept(skipping);
                    skipping = -1;
                }
                return length > 0 ? take() : null;
            }
        }
    }

    /** The largest line buffer held so far, in bytes: never above the limit. */
    int peakBufferBytes() {
        return Math.max(peakBufferBytes, line.length);
    }

    private String take() {
        String s = new String(line, 0, length, StandardCharsets.UTF_8);
        length = 0;
        return s;
    }
}
