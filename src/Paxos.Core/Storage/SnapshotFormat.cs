using System.Buffers.Binary;
using System.Globalization;
using Paxos.Protocol;

namespace Paxos.Storage;

/// <summary>
/// The bytes of a snapshot file, the same for every storage: a file written by one replica is read by another as it
/// is (state transfer sends it in chunks, unchanged). Everything is little-endian.
/// </summary>
/// <remarks>
/// <code>
/// header   0 u32 magic "PXSN"   4 u16 format version (2; 1 is read too)   6 u16 reserved (0)
///          8 i64 sequence number (the last one the snapshot covers)
///         16 i32 cluster size   20 u32 client count C (≤ MaxClients)
///         24 i64 the client table's expiry mark (the highest timestamp a forgotten client had executed)
/// clients  C times, in ascending client id order: i64 client id (positive), i64 timestamp,
///          i64 sequence number of that client's last executed update (≤ the snapshot's), u32 result length R
///          (≤ MaxResultBytes; from version 2 its top bit says the executor rejected the update), R bytes of result
/// executor the executor's bytes, as IExecutorSnapshot.WriteTo wrote them (the library never reads them)
/// trailer  i64 executor byte count, u32 CRC-32C of every byte before this field (the count included)
/// </code>
/// <para>Neither side holds the executor's bytes in memory: <see cref="Write"/> streams them through a wrapper that
/// counts and checksums, and <see cref="Read"/> checks the whole file in one streamed pass and hands back a stream over
/// exactly those bytes. The count is in the trailer, not the header, because it is known only once the executor has
/// written; the reader finds the executor's bytes between the end of the client table and the trailer, and refuses a
/// file where the count disagrees.</para>
/// </remarks>
public static class SnapshotFormat
{
    /// <summary>The format version this version of Paxos.Core writes, and the newest it reads.</summary>
    public const int FormatVersion = 2;

    /// <summary>The oldest format version this version of Paxos.Core reads (version 1 has no rejected rows).</summary>
    internal const int OldestFormatVersion = 1;

    /// <summary>The top bit of a row's result length: the executor rejected that update (version 2 and later).</summary>
    private const uint RejectedFlag = 0x8000_0000;

    /// <summary>The most client table rows a snapshot may hold: a larger count can only be damage.</summary>
    public const int MaxClients = 1 << 24;

    /// <summary>The longest result a client table row may hold, in bytes: a larger length can only be damage.</summary>
    public const int MaxResultBytes = 1 << 20;

    internal const uint Magic = 0x4E53_5850; // "PXSN"
    internal const int HeaderBytes = 32;
    internal const int ClientBytes = 28;
    internal const int TrailerBytes = 12;

    /// <summary>Writes a snapshot: its header and client table, the executor's bytes (streamed, from
    /// <see cref="IExecutorSnapshot.WriteTo"/>), then the trailer. <paramref name="destination"/> is written in order
    /// and never sought, read or disposed; the executor capture is not disposed either.</summary>
    /// <exception cref="ArgumentException">The snapshot's state cannot be represented: a cluster size out of range,
    /// clients not in ascending order of positive ids, a row newer than the snapshot, too many rows or too long a
    /// result.</exception>
    public static void Write(Stream destination, TakenSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(snapshot);
        var state = snapshot.State;
        ThrowIfUnrepresentable(state);
        var output = new ChecksumWriteStream(destination);
        Span<byte> scratch = stackalloc byte[HeaderBytes > ClientBytes ? HeaderBytes : ClientBytes]; // The largest fixed part.
        var fixedBytes = scratch[..HeaderBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(fixedBytes, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(fixedBytes[4..], FormatVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(fixedBytes[6..], 0);
        BinaryPrimitives.WriteInt64LittleEndian(fixedBytes[8..], state.Sequence.Value);
        BinaryPrimitives.WriteInt32LittleEndian(fixedBytes[16..], state.ClusterSize);
        BinaryPrimitives.WriteUInt32LittleEndian(fixedBytes[20..], (uint)state.Clients.Count);
        BinaryPrimitives.WriteInt64LittleEndian(fixedBytes[24..], state.ClientsExpiredThrough);
        output.Write(fixedBytes);
        for (var i = 0; i < state.Clients.Count; i++)
        {
            var client = state.Clients[i];
            var row = scratch[..ClientBytes];
            BinaryPrimitives.WriteInt64LittleEndian(row, client.Client.Value);
            BinaryPrimitives.WriteInt64LittleEndian(row[8..], client.Timestamp);
            BinaryPrimitives.WriteInt64LittleEndian(row[16..], client.Sequence.Value);
            BinaryPrimitives.WriteUInt32LittleEndian(row[24..], (uint)client.Result.Length | (client.Rejected ? RejectedFlag : 0));
            output.Write(row);
            output.Write(client.Result.Span);
        }

        var headerEnd = output.BytesWritten;
        snapshot.Executor.WriteTo(output);
        var trailer = scratch[..TrailerBytes];
        BinaryPrimitives.WriteInt64LittleEndian(trailer, output.BytesWritten - headerEnd);
        output.Write(trailer[..8]);
        BinaryPrimitives.WriteUInt32LittleEndian(trailer[8..], output.Checksum);
        destination.Write(trailer[8..]);
    }

    /// <summary>Checks a snapshot file end to end — its layout, the bounds of every length and its checksum — in one
    /// streamed pass, and returns its state with a way to open the executor's bytes.</summary>
    /// <param name="open">Opens the file from its start; called once here and once per
    /// <see cref="StoredSnapshot.OpenExecutorState"/>. The stream must know its length (a file, a memory stream).</param>
    /// <returns>The snapshot. Its <see cref="StoredSnapshot.OpenExecutorState"/> opens a read-only stream over exactly
    /// the executor's bytes, which checks the checksum again as it reaches their end.</returns>
    /// <exception cref="InvalidDataException">The bytes are not a valid snapshot (damaged, truncated, or of a newer
    /// format version, which the message names).</exception>
    public static StoredSnapshot Read(Func<Stream> open)
    {
        ArgumentNullException.ThrowIfNull(open);
        return Bind(Verify(open), open);
    }

    /// <summary>Where a verified snapshot's parts lie.</summary>
    internal readonly record struct Layout(SnapshotState State, long ExecutorOffset, long ExecutorBytes, uint ChecksumAfterHeader, long FileBytes);

    /// <summary>The checks of <see cref="Read"/>, returning where the parts lie rather than a bound snapshot, so that
    /// a storage can verify a file and then hand it out under another name.</summary>
    internal static Layout Verify(Func<Stream> open)
    {
        using var stream = open();
        if (!stream.CanSeek)
        {
            throw new ArgumentException("A snapshot is read from a stream that knows its length (a file, a memory stream).", nameof(open));
        }

        var fileBytes = stream.Length;
        if (fileBytes < HeaderBytes + TrailerBytes)
        {
            throw Invalid($"it is {fileBytes} bytes long, shorter than the smallest snapshot ({HeaderBytes + TrailerBytes} bytes)");
        }

        using var input = new ChecksumReader(stream, fileBytes - sizeof(uint));
        var state = ReadHeader(input, fileBytes);
        var executorOffset = input.Position;
        var executorBytes = fileBytes - TrailerBytes - executorOffset;
        var checksumAfterHeader = input.Checksum;
        input.Skip(executorBytes);
        Span<byte> trailer = stackalloc byte[TrailerBytes];
        input.ReadExactly(trailer[..8]);
        var computed = input.Checksum;
        if (stream.ReadAtLeast(trailer[8..], sizeof(uint), throwOnEndOfStream: false) != sizeof(uint))
        {
            throw Invalid($"it ends before its checksum (the file shrank while it was read)");
        }

        var stored = BinaryPrimitives.ReadUInt32LittleEndian(trailer[8..]);
        if (stored != computed)
        {
            throw Invalid($"its CRC-32C is 0x{computed:X8} but the trailer records 0x{stored:X8} (damaged or truncated)");
        }

        var count = BinaryPrimitives.ReadInt64LittleEndian(trailer);
        if (count != executorBytes)
        {
            throw Invalid($"the trailer counts {count} executor bytes but {executorBytes} lie between the client table and the trailer");
        }

        return new Layout(state, executorOffset, executorBytes, checksumAfterHeader, fileBytes);
    }

    /// <summary>A snapshot whose executor state is opened through <paramref name="open"/>, a file laid out as
    /// <paramref name="layout"/> says.</summary>
    internal static StoredSnapshot Bind(Layout layout, Func<Stream> open) =>
        new(layout.State, () => ExecutorStateStream.Open(open, layout));

    /// <summary>The version a file claims when its magic is right, whether or not the rest is; else null.</summary>
    internal static int? ClaimedVersion(ReadOnlySpan<byte> bytes) => WalFormat.ClaimedVersion(bytes, Magic);

    private static SnapshotState ReadHeader(ChecksumReader input, long fileBytes)
    {
        Span<byte> fixedBytes = stackalloc byte[HeaderBytes];
        input.ReadExactly(fixedBytes);
        if (BinaryPrimitives.ReadUInt32LittleEndian(fixedBytes) != Magic)
        {
            throw Invalid($"it does not start with the snapshot magic \"PXSN\"");
        }

        var version = BinaryPrimitives.ReadUInt16LittleEndian(fixedBytes[4..]);
        if (version > FormatVersion)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                $"The snapshot is of format version {version}, newer than this version of Paxos.Core reads (up to {FormatVersion}): it was written by a newer version."));
        }

        var sequence = BinaryPrimitives.ReadInt64LittleEndian(fixedBytes[8..]);
        var clusterSize = BinaryPrimitives.ReadInt32LittleEndian(fixedBytes[16..]);
        var count = BinaryPrimitives.ReadUInt32LittleEndian(fixedBytes[20..]);
        var expiredThrough = BinaryPrimitives.ReadInt64LittleEndian(fixedBytes[24..]);
        if (version < OldestFormatVersion || BinaryPrimitives.ReadUInt16LittleEndian(fixedBytes[6..]) != 0)
        {
            throw Invalid($"its header has format version {version} and reserved field 0x{BinaryPrimitives.ReadUInt16LittleEndian(fixedBytes[6..]):X4}");
        }

        if (sequence < 0 || clusterSize is < 1 or > ReplicaId.MaxClusterSize || expiredThrough < 0)
        {
            throw Invalid($"its header holds sequence number {sequence}, cluster size {clusterSize} and expiry mark {expiredThrough}");
        }

        // Every row takes at least ClientBytes, so the count is bounded by the file before anything is allocated.
        if (count > MaxClients || count * (long)ClientBytes > fileBytes - HeaderBytes - TrailerBytes)
        {
            throw Invalid($"its header counts {count} clients, more than {MaxClients} or than the file can hold");
        }

        var clients = new ClientTableEntry[count];
        var previous = 0L;
        Span<byte> row = stackalloc byte[ClientBytes];
        for (var i = 0; i < clients.Length; i++)
        {
            input.ReadExactly(row);
            var client = BinaryPrimitives.ReadInt64LittleEndian(row);
            var timestamp = BinaryPrimitives.ReadInt64LittleEndian(row[8..]);
            var executedAt = BinaryPrimitives.ReadInt64LittleEndian(row[16..]);
            var resultBytes = BinaryPrimitives.ReadUInt32LittleEndian(row[24..]);
            var rejected = version >= 2 && (resultBytes & RejectedFlag) != 0;
            resultBytes &= rejected ? ~RejectedFlag : uint.MaxValue;
            if (client <= previous || executedAt < 0 || executedAt > sequence
                || resultBytes > MaxResultBytes || resultBytes > fileBytes - TrailerBytes - input.Position)
            {
                throw Invalid($"client table row {i} (client {client}, executed at {executedAt}, result of {resultBytes} bytes) is out of order or out of bounds");
            }

            var result = new byte[resultBytes];
            input.ReadExactly(result);
            clients[i] = new ClientTableEntry(new ClientId(client), timestamp, new SequenceNumber(executedAt), result) { Rejected = rejected };
            previous = client;
        }

        return new SnapshotState { Sequence = new SequenceNumber(sequence), ClusterSize = clusterSize, Clients = clients, ClientsExpiredThrough = expiredThrough };
    }

    private static void ThrowIfUnrepresentable(SnapshotState state)
    {
        if (state.Sequence.Value < 0 || state.ClusterSize is < 1 or > ReplicaId.MaxClusterSize || state.Clients.Count > MaxClients)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"A snapshot holds a sequence number ≥ 0 (it is {state.Sequence.Value}), a cluster size from 1 to {ReplicaId.MaxClusterSize} (it is {state.ClusterSize}) and at most {MaxClients} clients (it has {state.Clients.Count})."), nameof(state));
        }

        var previous = 0L;
        for (var i = 0; i < state.Clients.Count; i++)
        {
            var client = state.Clients[i];
            if (client.Client.Value <= previous || client.Sequence.Value < 0 || client.Sequence > state.Sequence || client.Result.Length > MaxResultBytes)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                    $"Client table row {i} (client {client.Client.Value}, executed at {client.Sequence.Value}, result of {client.Result.Length} bytes) is not in ascending order of positive client ids, is newer than the snapshot ({state.Sequence.Value}), or its result is longer than {MaxResultBytes} bytes."), nameof(state));
            }

            previous = client.Client.Value;
        }
    }

    internal static InvalidDataException Invalid(FormattableString reason) =>
        new(string.Create(CultureInfo.InvariantCulture, $"The snapshot is not valid: {reason.ToString(CultureInfo.InvariantCulture)}."));
}
