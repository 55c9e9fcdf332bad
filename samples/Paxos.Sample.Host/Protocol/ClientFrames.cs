using System.Buffers.Binary;

namespace Paxos.Sample.Protocol;

/// <summary>The client protocol's framing: a 4-byte little-endian length, then the frame type and the body.</summary>
internal static class ClientFrames
{
    /// <summary>The largest frame after its length prefix. Updates are at most a few KiB; anything longer is
    /// malformed, and is refused before any memory is set aside for it.</summary>
    public const int MaxFrameBytes = 64 * 1024;

    public const int LengthBytes = 4;

    /// <summary>A frame of <paramref name="type"/> with room for <paramref name="bodyLength"/> bytes of body.</summary>
    public static byte[] Allocate(FrameType type, int bodyLength, out Span<byte> body)
    {
        var frame = new byte[LengthBytes + 1 + bodyLength];
        BinaryPrimitives.WriteInt32LittleEndian(frame, 1 + bodyLength);
        frame[LengthBytes] = (byte)type;
        body = frame.AsSpan(LengthBytes + 1);
        return frame;
    }
}

/// <summary>The peer broke the client protocol: the connection cannot be trusted any further and is closed.</summary>
internal sealed class ClientProtocolException : Exception
{
    public ClientProtocolException()
    {
    }

    public ClientProtocolException(string message)
        : base(message)
    {
    }

    public ClientProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// Reads frames from one stream through a buffer of its own, which grows as needed up to
/// <see cref="ClientFrames.MaxFrameBytes"/> plus the length prefix. Each read takes whatever the stream has, so a
/// frame that arrived whole costs one read, not three (first byte, length, body). A frame's body is valid until
/// the next read.
/// </summary>
internal sealed class FrameReader(Stream stream)
{
    private byte[] _buffer = new byte[4096];
    private int _start;
    private int _end;

    /// <summary>Reads the next frame; null when the peer closed the stream between frames.</summary>
    /// <param name="idleTimeout">How long to wait for a frame to start.</param>
    /// <param name="frameTimeout">How long a started frame may take to arrive whole.</param>
    /// <param name="cancellationToken">Stops reading.</param>
    /// <exception cref="ClientProtocolException">The length is out of range, or the stream ended inside a frame.</exception>
    /// <exception cref="TimeoutException">A timeout expired.</exception>
    public async ValueTask<(FrameType Type, ReadOnlyMemory<byte> Body)?> ReadAsync(TimeSpan idleTimeout, TimeSpan frameTimeout, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(idleTimeout);
        try
        {
            if (_end == _start && !await FillAsync(1, timeout.Token))
            {
                return null;
            }

            timeout.CancelAfter(frameTimeout);
            await FillOrThrowAsync(ClientFrames.LengthBytes, timeout.Token);
            var length = BinaryPrimitives.ReadInt32LittleEndian(_buffer.AsSpan(_start));
            if (length is < 1 or > ClientFrames.MaxFrameBytes)
            {
                throw new ClientProtocolException($"A frame of {length} bytes; frames are 1 to {ClientFrames.MaxFrameBytes} bytes.");
            }

            await FillOrThrowAsync(ClientFrames.LengthBytes + length, timeout.Token);
            var frame = _buffer.AsMemory(_start + ClientFrames.LengthBytes, length);
            _start += ClientFrames.LengthBytes + length;
            return ((FrameType)frame.Span[0], frame[1..]);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException("The peer sent no frame in time.");
        }
    }

    private async ValueTask FillOrThrowAsync(int count, CancellationToken cancellationToken)
    {
        if (!await FillAsync(count, cancellationToken))
        {
            throw new ClientProtocolException("The stream ended inside a frame.");
        }
    }

    /// <summary>Reads until at least <paramref name="count"/> bytes are buffered; false if the stream ended first.</summary>
    private async ValueTask<bool> FillAsync(int count, CancellationToken cancellationToken)
    {
        if (_end - _start >= count)
        {
            return true;
        }

        // Make room: move what is left to the front (the previous frame's body is no longer in use), and grow
        // the buffer if a frame needs more than it holds.
        if (_buffer.Length < count)
        {
            var larger = new byte[Math.Max(count, Math.Min(_buffer.Length * 2, ClientFrames.LengthBytes + ClientFrames.MaxFrameBytes))];
            _buffer.AsSpan(_start, _end - _start).CopyTo(larger);
            _buffer = larger;
        }
        else
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
        }

        (_start, _end) = (0, _end - _start);
        while (_end < count)
        {
            var read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
            if (read == 0)
            {
                return false;
            }

            _end += read;
        }

        return true;
    }
}
