using System.Buffers.Binary;

namespace Paxos.Client.Wire;

/// <summary>The peer broke the wire protocol (a bad length, an unknown type, a truncated field, a frame cut by the end
/// of the stream); the connection cannot be trusted any further and is closed.</summary>
internal sealed class WireProtocolException : Exception
{
    public WireProtocolException()
    {
    }

    public WireProtocolException(string message)
        : base(message)
    {
    }

    public WireProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// Reads length-prefixed frames from one stream through a buffer of its own, which grows as needed up to the bound
/// on a frame. A read takes whatever the stream has, so a frame that arrived whole costs one read. The content a
/// read returns is valid until the next read.
/// </summary>
internal sealed class FrameReader(Stream stream, int maxFrameBytes, bool authenticated)
{
    private byte[] _buffer = new byte[4096];
    private int _start;
    private int _end;

    /// <summary>The next frame's content (after its length prefix, tag included); null when the peer closed the
    /// stream between frames.</summary>
    /// <exception cref="WireProtocolException">The length is out of range, or the stream ended inside a frame.</exception>
    public async ValueTask<ReadOnlyMemory<byte>?> ReadAsync(CancellationToken cancellationToken)
    {
        if (_end == _start && !await FillAsync(1, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        await FillOrThrowAsync(WireFormat.LengthBytes, cancellationToken).ConfigureAwait(false);
        var length = BinaryPrimitives.ReadInt32LittleEndian(_buffer.AsSpan(_start));
        if (!WireFormat.IsValidLength(length, authenticated, maxFrameBytes))
        {
            throw new WireProtocolException($"A frame of {length} bytes; frames here are {WireFormat.ContentLength(0, authenticated)} to {maxFrameBytes} bytes.");
        }

        await FillOrThrowAsync(WireFormat.LengthBytes + length, cancellationToken).ConfigureAwait(false);
        var content = _buffer.AsMemory(_start + WireFormat.LengthBytes, length);
        _start += WireFormat.LengthBytes + length;
        return content;
    }

    private async ValueTask FillOrThrowAsync(int count, CancellationToken cancellationToken)
    {
        if (!await FillAsync(count, cancellationToken).ConfigureAwait(false))
        {
            throw new WireProtocolException("The stream ended inside a frame.");
        }
    }

    /// <summary>Reads until at least <paramref name="count"/> bytes are buffered; false if the stream ended first.</summary>
    private async ValueTask<bool> FillAsync(int count, CancellationToken cancellationToken)
    {
        if (_end - _start >= count)
        {
            return true;
        }

        // The previous frame's content is no longer in use: move what is left to the front, growing the buffer if
        // this frame needs more than it holds (never beyond the bound, which the length was checked against).
        if (_buffer.Length < count)
        {
            var larger = new byte[Math.Max(count, Math.Min(_buffer.Length * 2, WireFormat.LengthBytes + maxFrameBytes))];
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
            var read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return false;
            }

            _end += read;
        }

        return true;
    }
}
