using System.Buffers;
using System.Buffers.Binary;
using Paxos.Diagnostics;

namespace Paxos.Storage;

/// <summary>
/// What <see cref="SnapshotFormat.Write"/> hands the executor: a forward-only stream that passes every byte on to the
/// destination and keeps their count and CRC-32C. It never seeks, and disposing it leaves the destination open (an
/// executor may dispose what it was given).
/// </summary>
internal sealed class ChecksumWriteStream(Stream destination) : Stream
{
    /// <summary>Bytes written so far.</summary>
    public long BytesWritten { get; private set; }

    /// <summary>The CRC-32C of the bytes written so far.</summary>
    public uint Checksum { get; private set; }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException("A snapshot is written in order, never sought.");

    public override long Position
    {
        get => throw new NotSupportedException("A snapshot is written in order, never sought.");
        set => throw new NotSupportedException("A snapshot is written in order, never sought.");
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        destination.Write(buffer);
        Checksum = Crc32C.Append(Checksum, buffer);
        BytesWritten += buffer.Length;
    }

    public override void WriteByte(byte value) => Write([value]);

    public override void Flush() => destination.Flush();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("A snapshot is written in order, never sought.");

    public override void SetLength(long value) => throw new NotSupportedException("A snapshot is written in order, never sought.");
}

/// <summary>Reads a snapshot file from its start through one pooled buffer, up to a limit (the start of the
/// checksum field), keeping the CRC-32C of everything it consumed.</summary>
internal sealed class ChecksumReader(Stream source, long limit) : IDisposable
{
    private const int BufferBytes = 1 << 16;
    private byte[]? _buffer = ArrayPool<byte>.Shared.Rent(BufferBytes);

    /// <summary>Bytes consumed so far.</summary>
    public long Position { get; private set; }

    /// <summary>The CRC-32C of the bytes consumed so far.</summary>
    public uint Checksum { get; private set; }

    /// <summary>Fills <paramref name="destination"/>, or throws <see cref="InvalidDataException"/> when the bytes
    /// before the limit run out.</summary>
    public void ReadExactly(Span<byte> destination)
    {
        if (destination.Length > limit - Position
            || source.ReadAtLeast(destination, destination.Length, throwOnEndOfStream: false) != destination.Length)
        {
            throw SnapshotFormat.Invalid($"it ends inside its header, client table or trailer (at byte {Position} of {limit + sizeof(uint)})");
        }

        Checksum = Crc32C.Append(Checksum, destination);
        Position += destination.Length;
    }

    /// <summary>Consumes <paramref name="count"/> bytes, checksumming them, without keeping them.</summary>
    public void Skip(long count)
    {
        var buffer = _buffer ?? throw new ObjectDisposedException(nameof(ChecksumReader));
        while (count > 0)
        {
            var chunk = buffer.AsSpan(0, (int)Math.Min(count, BufferBytes));
            ReadExactly(chunk);
            count -= chunk.Length;
        }
    }

    public void Dispose()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

/// <summary>
/// The executor's bytes of a verified snapshot file, for <see cref="ISnapshotExecutor.RestoreSnapshot"/>: read-only,
/// forward-only, ending exactly where they end. The file was checked when it was read; the checksum is carried on over
/// what is read here and checked again at the end, so a file damaged since (or replaced underneath) is refused rather
/// than restored.
/// </summary>
internal sealed class ExecutorStateStream : Stream
{
    private readonly Stream _file;
    private readonly long _length;
    private long _position;
    private uint _checksum;
    private bool _checked;

    private ExecutorStateStream(Stream file, long length, uint checksumAfterHeader)
    {
        _file = file;
        _length = length;
        _checksum = checksumAfterHeader;
    }

    public static Stream Open(Func<Stream> open, SnapshotFormat.Layout layout)
    {
        var file = open();
        try
        {
            if (file.Length != layout.FileBytes)
            {
                throw SnapshotFormat.Invalid($"it is now {file.Length} bytes long, but was {layout.FileBytes} when it was verified");
            }

            file.Seek(layout.ExecutorOffset, SeekOrigin.Begin);
            return new ExecutorStateStream(file, layout.ExecutorBytes, layout.ChecksumAfterHeader);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var wanted = (int)Math.Min(buffer.Length, _length - _position);
        if (wanted == 0)
        {
            CheckTrailer();
            return 0;
        }

        var read = _file.Read(buffer[..wanted]);
        if (read == 0)
        {
            throw SnapshotFormat.Invalid($"it ends inside the executor's bytes, {_length - _position} bytes early (the file shrank since it was verified)");
        }

        _checksum = Crc32C.Append(_checksum, buffer[..read]);
        _position += read;
        if (_position == _length)
        {
            CheckTrailer();
        }

        return read;
    }

    public override int ReadByte()
    {
        Span<byte> one = stackalloc byte[1];
        return Read(one) == 1 ? one[0] : -1;
    }

    private void CheckTrailer()
    {
        if (_checked)
        {
            return;
        }

        _checked = true;
        Span<byte> trailer = stackalloc byte[SnapshotFormat.TrailerBytes];
        if (_file.ReadAtLeast(trailer, trailer.Length, throwOnEndOfStream: false) != trailer.Length
            || BinaryPrimitives.ReadInt64LittleEndian(trailer) != _length
            || BinaryPrimitives.ReadUInt32LittleEndian(trailer[8..]) != Crc32C.Append(_checksum, trailer[..8]))
        {
            throw SnapshotFormat.Invalid($"its checksum no longer matches: the file changed since it was verified");
        }
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _file.Dispose();
        }

        base.Dispose(disposing);
    }
}
