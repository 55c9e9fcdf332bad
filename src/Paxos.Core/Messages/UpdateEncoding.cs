using System.Buffers.Binary;

namespace Paxos.Messages;

/// <summary>
/// The binary encoding of a <see cref="ClientUpdate"/> and of a list of them, shared by the wire codec
/// (<see cref="MessageCodec"/>) and the write-ahead log (<see cref="Storage.FileReplicaStorage"/>) so that an update
/// has one format: i64 client id, i64 timestamp, i32 origin (−1 for none), u32 payload length, the payload.
/// A list is a u32 count and its updates, and always ends the body that holds it.
/// </summary>
/// <remarks>Decoding checks first and allocates after, like the codec: <see cref="TryReadList"/> walks the
/// whole list before it makes any object, so a forged count or length costs nothing.</remarks>
internal static class UpdateEncoding
{
    /// <summary>The one rule for encoded updates, used by both directions: the no-op is exactly
    /// (0, 0, no origin, no payload); any other update has a positive client id and timestamp; an origin
    /// is a member of a cluster of <paramref name="clusterSize"/> or none.</summary>
    public static bool IsValid(long clientId, long timestamp, int origin, long payloadLength, int clusterSize) =>
        clientId == 0
            ? timestamp == 0 && origin == ReplicaId.None.Value && payloadLength == 0
            : clientId > 0 && timestamp > 0 && origin >= ReplicaId.None.Value && origin < clusterSize;

    /// <summary>The encoded size of <paramref name="update"/>.</summary>
    public static int Measure(ClientUpdate update) => MessageSizes.UpdateOverheadBytes + update.Payload.Length;

    /// <summary>Writes a u32 count and the updates.</summary>
    public static void WriteList(ReadOnlySpan<ClientUpdate> updates, ref SpanWriter writer)
    {
        writer.WriteUInt32((uint)updates.Length);
        foreach (var update in updates)
        {
            Write(update, ref writer);
        }
    }

    /// <summary>Writes one update.</summary>
    public static void Write(ClientUpdate update, ref SpanWriter writer)
    {
        var payload = update.Payload.Span;
        writer.WriteInt64(update.ClientId.Value);
        writer.WriteInt64(update.Timestamp);
        writer.WriteInt32(update.Origin.Value);
        writer.WriteUInt32((uint)payload.Length);
        writer.WriteBytes(payload);
    }

    /// <summary>Reads a u32 count and that many updates, which must end the body exactly. The first pass
    /// only checks and measures; objects are made only once the whole list is known to be well-formed.</summary>
    public static bool TryReadList(ref SpanReader reader, int minimumCount, int clusterSize, out ClientUpdate[] updates)
    {
        updates = [];
        if (!reader.TryReadCount(MessageSizes.UpdateOverheadBytes, minimumCount, out var count))
        {
            return false;
        }

        var check = reader;
        var payloadBytes = 0;
        for (var i = 0; i < count; i++)
        {
            if (!TrySkip(ref check, clusterSize, ref payloadBytes))
            {
                return false;
            }
        }

        if (!check.IsEmpty)
        {
            return false;
        }

        if (count > 0)
        {
            updates = new ClientUpdate[count];
            var payloads = new PayloadBuffer(payloadBytes);
            for (var i = 0; i < count; i++)
            {
                updates[i] = ReadChecked(ref reader, ref payloads);
            }
        }

        return true;
    }

    /// <summary>Checks one update and steps over it, adding its payload length to <paramref name="payloadBytes"/>.</summary>
    public static bool TrySkip(ref SpanReader reader, int clusterSize, ref int payloadBytes)
    {
        if (!reader.TryReadUpdateFields(out var clientId, out var timestamp, out var origin, out var length)
            || !IsValid(clientId, timestamp, origin, length, clusterSize)
            || !reader.TrySkip(length))
        {
            return false;
        }

        // Cannot overflow: the payloads all lie in one span (a datagram body or a log record), far below 2 GiB.
        payloadBytes += (int)length;
        return true;
    }

    /// <summary>Reads an update that <see cref="TrySkip"/> has already accepted.</summary>
    public static ClientUpdate ReadChecked(ref SpanReader reader, ref PayloadBuffer payloads)
    {
        _ = reader.TryReadUpdateFields(out var clientId, out var timestamp, out var origin, out var length);
        if (clientId == 0)
        {
            return ClientUpdate.NoOp;
        }

        _ = reader.TryReadBytes((int)length, out var bytes);
        return new ClientUpdate(new ClientId(clientId), timestamp, payloads.Add(bytes), new ReplicaId(origin), validate: false);
    }
}

/// <summary>The one array that holds every payload of a decoded message (or log record), filled in order.</summary>
internal struct PayloadBuffer(int length)
{
    private readonly byte[] _bytes = length == 0 ? [] : new byte[length];
    private int _used;

    public ReadOnlyMemory<byte> Add(ReadOnlySpan<byte> payload)
    {
        if (payload.IsEmpty)
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        payload.CopyTo(_bytes.AsSpan(_used));
        var memory = new ReadOnlyMemory<byte>(_bytes, _used, payload.Length);
        _used += payload.Length;
        return memory;
    }
}

/// <summary>Writes little-endian fields in order. The caller measured the body, so every write fits.</summary>
internal ref struct SpanWriter(Span<byte> destination)
{
    private readonly Span<byte> _destination = destination;

    public int Written { get; private set; }

    public void WriteInt64(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(_destination[Written..], value);
        Written += sizeof(long);
    }

    public void WriteInt32(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(_destination[Written..], value);
        Written += sizeof(int);
    }

    public void WriteUInt32(uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_destination[Written..], value);
        Written += sizeof(uint);
    }

    public void WriteByte(byte value)
    {
        _destination[Written] = value;
        Written++;
    }

    public void WriteBytes(ReadOnlySpan<byte> value)
    {
        value.CopyTo(_destination[Written..]);
        Written += value.Length;
    }
}

/// <summary>Reads little-endian fields in order; every read checks the bytes left first and fails
/// (returns false) rather than throw.</summary>
internal ref struct SpanReader(ReadOnlySpan<byte> source)
{
    private readonly ReadOnlySpan<byte> _source = source;
    private int _read;

    public readonly int Remaining => _source.Length - _read;

    public readonly bool IsEmpty => _read == _source.Length;

    /// <summary>Reads one view or sequence number, which must not be negative.</summary>
    public bool TryReadFields(out long first)
    {
        first = 0;
        if (Remaining < sizeof(long))
        {
            return false;
        }

        first = BinaryPrimitives.ReadInt64LittleEndian(_source[_read..]);
        _read += sizeof(long);
        return first >= 0;
    }

    /// <summary>Reads two views or sequence numbers, which must not be negative.</summary>
    public bool TryReadFields(out long first, out long second)
    {
        second = 0;
        return TryReadFields(out first) && TryReadFields(out second);
    }

    public bool TryReadInt32(out int value)
    {
        value = 0;
        if (Remaining < sizeof(int))
        {
            return false;
        }

        value = BinaryPrimitives.ReadInt32LittleEndian(_source[_read..]);
        _read += sizeof(int);
        return true;
    }

    public bool TryReadByte(out byte value)
    {
        value = 0;
        if (Remaining < 1)
        {
            return false;
        }

        value = _source[_read];
        _read++;
        return true;
    }

    /// <summary>Reads a u32 element count, which must be at least <paramref name="minimumCount"/> and small
    /// enough that that many elements of <paramref name="minimumElementBytes"/> each fit in the bytes left.
    /// This is what keeps a forged count from allocating more than the datagram's size.</summary>
    public bool TryReadCount(int minimumElementBytes, int minimumCount, out int count)
    {
        count = 0;
        if (Remaining < sizeof(uint))
        {
            return false;
        }

        var value = BinaryPrimitives.ReadUInt32LittleEndian(_source[_read..]);
        _read += sizeof(uint);
        if (value < minimumCount || value > (uint)(Remaining / minimumElementBytes))
        {
            return false;
        }

        count = (int)value;
        return true;
    }

    /// <summary>Reads the fixed part of an update: client id, timestamp, origin and payload length.</summary>
    public bool TryReadUpdateFields(out long clientId, out long timestamp, out int origin, out uint payloadLength)
    {
        if (Remaining < MessageSizes.UpdateOverheadBytes)
        {
            clientId = 0;
            timestamp = 0;
            origin = 0;
            payloadLength = 0;
            return false;
        }

        var fields = _source.Slice(_read, MessageSizes.UpdateOverheadBytes);
        clientId = BinaryPrimitives.ReadInt64LittleEndian(fields);
        timestamp = BinaryPrimitives.ReadInt64LittleEndian(fields[8..]);
        origin = BinaryPrimitives.ReadInt32LittleEndian(fields[16..]);
        payloadLength = BinaryPrimitives.ReadUInt32LittleEndian(fields[20..]);
        _read += MessageSizes.UpdateOverheadBytes;
        return true;
    }

    public bool TrySkip(uint length)
    {
        if (length > (uint)Remaining)
        {
            return false;
        }

        _read += (int)length;
        return true;
    }

    public bool TryReadBytes(int length, out ReadOnlySpan<byte> bytes)
    {
        bytes = default;
        if (length < 0 || length > Remaining)
        {
            return false;
        }

        bytes = _source.Slice(_read, length);
        _read += length;
        return true;
    }
}
