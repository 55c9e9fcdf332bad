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
/// Reads frames from one stream into a buffer of its own, which grows as needed up to
/// <see cref="ClientFrames.MaxFrameBytes"/>. A frame's body is valid until the next read.
/// </summary>
internal sealed class FrameReader(Stream stream)
{
    private byte[] _buffer = new byte[256];

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
            var first = await stream.ReadAsync(_buffer.AsMemory(0, 1), timeout.Token);
            if (first == 0)
            {
                return null;
            }

            timeout.CancelAfter(frameTimeout);
            await ReadExactlyAsync(_buffer.AsMemory(1, ClientFrames.LengthBytes - 1), timeout.Token);
            var length = BinaryPrimitives.ReadInt32LittleEndian(_buffer);
            if (length is < 1 or > ClientFrames.MaxFrameBytes)
            {
                throw new ClientProtocolException($"A frame of {length} bytes; frames are 1 to {ClientFrames.MaxFrameBytes} bytes.");
            }

            if (_buffer.Length < length)
            {
                _buffer = new byte[Math.Max(length, Math.Min(_buffer.Length * 2, ClientFrames.MaxFrameBytes))];
            }

            await ReadExactlyAsync(_buffer.AsMemory(0, length), timeout.Token);
            return ((FrameType)_buffer[0], _buffer.AsMemory(1, length - 1));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException("The peer sent no frame in time.");
        }
    }

    private async ValueTask ReadExactlyAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        try
        {
            await stream.ReadExactlyAsync(destination, cancellationToken);
        }
        catch (EndOfStreamException exception)
        {
            throw new ClientProtocolException("The stream ended inside a frame.", exception);
        }
    }
}
