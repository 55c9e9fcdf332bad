using System.Buffers.Binary;
using System.Globalization;
using Paxos.Diagnostics;
using Paxos.Messages;

namespace Paxos.Storage;

/// <summary>The kinds of log record. The numeric values are written to disk.</summary>
internal enum WalRecordType : byte
{
    /// <summary>Starts every write: i64 batch number, i64 durable offset (see <see cref="WalFormat"/>).</summary>
    Batch = 1,

    /// <summary>An accepted Proposal: i32 sender, i64 view, i64 first sequence, u32 count (≥ 1), the updates.</summary>
    AcceptedProposal = 2,

    /// <summary>A run of ordered slots with consecutive sequence numbers: i64 first sequence, u32 count (≥ 1), the updates.</summary>
    Ordered = 3,

    /// <summary>One pending update of a local client: the update (never the no-op).</summary>
    Pending = 4,
}

/// <summary>
/// The on-disk format of <see cref="FileReplicaStorage"/>. Everything is little-endian and fixed-width.
/// </summary>
/// <remarks>
/// <para>A segment, <c>wal-NNNNNNNN.log</c>, starts with a 32-byte header, then records back to back
/// (unaligned) until a zero length field or the end of the file:</para>
/// <code>
/// header  0 u32 magic "PXWL"   4 u16 version (1)   6 u16 header length (32)
///         8 u64 segment number   16 u64 salt (random, per segment file)   24 u32 reserved (0)
///        28 u32 CRC-32C of bytes [0, 28)
/// record  0 u32 length L of type and payload (1 ≤ L ≤ MaxRecordBytes; 0 marks the end of the data)
///         4 u32 CRC-32C of (salt u64, record offset i64, L u32) followed by type and payload
///         8 u8  type (<see cref="WalRecordType"/>)
///         9 payload, L − 1 bytes; updates are encoded as on the wire (<see cref="UpdateEncoding"/>)
/// </code>
/// <para>The checksum covers the record's own file offset and the segment's salt without storing them. So a
/// record is valid only where it was written, in the file it was written to: a stale record left in a reused
/// region, a record shifted by a bug, or one copied from another segment (or from an earlier incarnation of
/// this segment number, after a torn creation) cannot pass for a live one. The salt is per file rather than a
/// constant because an offset alone repeats in every segment.</para>
/// <para>Every write (one per batch) starts with a <see cref="WalRecordType.Batch"/> record that holds the
/// durable offset: the offset in this segment up to which the storage had declared the log durable (fsynced)
/// when it wrote the batch. Recovery uses it to tell a torn tail from damage: a bad record followed by a
/// valid batch whose durable offset lies beyond it was durable before, so it is damage; otherwise it lies in a
/// region that was never promised, and a crash may have left that region with holes.</para>
/// <para>The <c>view</c> file is 28 bytes: u32 magic "PXVW", u16 version (2), u16 reserved (0), i64
/// Last_Installed, i64 Last_Attempted (the highest view the replica ever tried to install), u32 CRC-32C of
/// bytes [0, 24). Version 1 (20 bytes, without Last_Attempted) is still read, as Last_Attempted = Last_Installed,
/// which is what a replica of that version could have promised: it did not record its attempts.</para>
/// </remarks>
internal static class WalFormat
{
    public const int SegmentHeaderBytes = 32;
    /// <summary>The length field and the checksum before a record's type.</summary>
    public const int RecordPrefixBytes = 8;
    public const int ViewFileBytes = 28;
    public const int ViewFileV1Bytes = 20;

    /// <summary>The largest type-and-payload length of a record. Every record the storage writes is far smaller
    /// (a Proposal and an update fit in a datagram, and ordered runs are split), so a larger length field can
    /// only be damage; it also bounds what recovery reads at once.</summary>
    public const int MaxRecordBytes = 1 << 20;

    /// <summary>Where a run of ordered slots is split into another record.</summary>
    public const int OrderedRunPayloadBytes = 64 * 1024;

    /// <summary>The length field of a batch record (type and two i64).</summary>
    public const int BatchRecordLength = 1 + 16;

    /// <summary>The whole size of a batch record.</summary>
    public const int BatchRecordBytes = RecordPrefixBytes + BatchRecordLength;

    /// <summary>Replica ids in records are checked against the largest cluster; the log does not know its own.</summary>
    public const int MaxClusterSize = ReplicaId.MaxClusterSize;

    public const string ViewFileName = "view";
    public const string ViewTempFileName = "view.tmp";
    public const string LockFileName = "lock";
    public const string SyncFailedFileName = "sync-failed";

    private const uint SegmentMagic = 0x4C57_5850; // "PXWL"
    private const uint ViewMagic = 0x5756_5850; // "PXVW"
    private const ushort FormatVersion = 1;
    private const ushort ViewFormatVersion = 2;
    private const int ChecksumPrefixBytes = 20;

    public static string SegmentFileName(long number) =>
        string.Create(CultureInfo.InvariantCulture, $"wal-{number:D8}.log");

    /// <summary>Parses <c>wal-NNNNNNNN.log</c> (eight or more digits).</summary>
    public static bool TryParseSegmentFileName(string fileName, out long number)
    {
        number = 0;
        if (!fileName.StartsWith("wal-", StringComparison.Ordinal) || !fileName.EndsWith(".log", StringComparison.Ordinal))
        {
            return false;
        }

        var digits = fileName.AsSpan(4, fileName.Length - 8);
        return digits.Length >= 8
            && long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out number)
            && number > 0;
    }

    public static void WriteSegmentHeader(Span<byte> header, long number, ulong salt)
    {
        header[..SegmentHeaderBytes].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(header, SegmentMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], FormatVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], SegmentHeaderBytes);
        BinaryPrimitives.WriteInt64LittleEndian(header[8..], number);
        BinaryPrimitives.WriteUInt64LittleEndian(header[16..], salt);
        BinaryPrimitives.WriteUInt32LittleEndian(header[28..], Crc32C.Compute(header[..28]));
    }

    public static bool TryReadSegmentHeader(ReadOnlySpan<byte> header, out long number, out ulong salt)
    {
        number = 0;
        salt = 0;
        if (header.Length < SegmentHeaderBytes
            || BinaryPrimitives.ReadUInt32LittleEndian(header[28..]) != Crc32C.Compute(header[..28])
            || BinaryPrimitives.ReadUInt32LittleEndian(header) != SegmentMagic
            || BinaryPrimitives.ReadUInt16LittleEndian(header[4..]) != FormatVersion
            || BinaryPrimitives.ReadUInt16LittleEndian(header[6..]) != SegmentHeaderBytes)
        {
            return false;
        }

        number = BinaryPrimitives.ReadInt64LittleEndian(header[8..]);
        salt = BinaryPrimitives.ReadUInt64LittleEndian(header[16..]);
        return true;
    }

    public static void WriteViewFile(Span<byte> file, ViewNumber installed, ViewNumber attempted)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(file, ViewMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(file[4..], ViewFormatVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(file[6..], 0);
        BinaryPrimitives.WriteInt64LittleEndian(file[8..], installed.Value);
        BinaryPrimitives.WriteInt64LittleEndian(file[16..], attempted.Value);
        BinaryPrimitives.WriteUInt32LittleEndian(file[24..], Crc32C.Compute(file[..24]));
    }

    /// <summary>Reads a <c>view</c> file of version 2, or of version 1 (then Last_Attempted = Last_Installed).</summary>
    public static bool TryReadViewFile(ReadOnlySpan<byte> file, out ViewNumber installed, out ViewNumber attempted)
    {
        installed = ViewNumber.None;
        attempted = ViewNumber.None;
        var version = file.Length >= 8 ? BinaryPrimitives.ReadUInt16LittleEndian(file[4..]) : (ushort)0;
        var checkedBytes = version switch { 1 => 16, ViewFormatVersion => 24, _ => -1 };
        if (checkedBytes < 0
            || file.Length != checkedBytes + 4
            || BinaryPrimitives.ReadUInt32LittleEndian(file[checkedBytes..]) != Crc32C.Compute(file[..checkedBytes])
            || BinaryPrimitives.ReadUInt32LittleEndian(file) != ViewMagic
            || BinaryPrimitives.ReadUInt16LittleEndian(file[6..]) != 0)
        {
            return false;
        }

        var installedValue = BinaryPrimitives.ReadInt64LittleEndian(file[8..]);
        var attemptedValue = version == 1 ? installedValue : BinaryPrimitives.ReadInt64LittleEndian(file[16..]);
        installed = new ViewNumber(installedValue);
        attempted = new ViewNumber(attemptedValue);
        return installedValue >= 0 && attemptedValue >= installedValue;
    }

    /// <summary>Fills in the length and checksum of the record that occupies all of <paramref name="record"/>
    /// (header included; type and payload already written) and that will sit at <paramref name="offset"/>.</summary>
    public static void SealRecord(Span<byte> record, ulong salt, long offset)
    {
        var length = (uint)(record.Length - 8);
        BinaryPrimitives.WriteUInt32LittleEndian(record, length);
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], Checksum(salt, offset, record[8..]));
    }

    /// <summary>Whether the record that occupies all of <paramref name="record"/> (header included) is intact at
    /// <paramref name="offset"/> of a segment with <paramref name="salt"/>.</summary>
    public static bool IsIntact(ReadOnlySpan<byte> record, ulong salt, long offset) =>
        record.Length > 8
        && BinaryPrimitives.ReadUInt32LittleEndian(record) == (uint)(record.Length - 8)
        && BinaryPrimitives.ReadUInt32LittleEndian(record[4..]) == Checksum(salt, offset, record[8..]);

    /// <summary>Reads a batch record's payload (i64 batch number, i64 durable offset); false if it is malformed.</summary>
    public static bool TryReadBatchPayload(ReadOnlySpan<byte> payload, out long durableOffset)
    {
        durableOffset = 0;
        if (payload.Length != BatchRecordLength - 1)
        {
            return false;
        }

        durableOffset = BinaryPrimitives.ReadInt64LittleEndian(payload[8..]);
        return BinaryPrimitives.ReadInt64LittleEndian(payload) > 0 && durableOffset >= SegmentHeaderBytes;
    }

    /// <summary>The newest segment format version this version reads.</summary>
    public const int HighestSegmentVersion = FormatVersion;

    /// <summary>The newest view file format version this version reads.</summary>
    public const int HighestViewVersion = ViewFormatVersion;

    /// <summary>The version a segment header claims when its magic is right, whether or not the rest is; else null.</summary>
    public static int? ClaimedSegmentVersion(ReadOnlySpan<byte> header) => ClaimedVersion(header, SegmentMagic);

    /// <summary>The version a view file claims when its magic is right, whether or not the rest is; else null.</summary>
    public static int? ClaimedViewVersion(ReadOnlySpan<byte> file) => ClaimedVersion(file, ViewMagic);

    /// <summary>The u16 version after a u32 <paramref name="magic"/>, the layout every file of the data directory
    /// starts with, when the magic is right; else null.</summary>
    public static int? ClaimedVersion(ReadOnlySpan<byte> bytes, uint magic) =>
        bytes.Length >= 6 && BinaryPrimitives.ReadUInt32LittleEndian(bytes) == magic ? BinaryPrimitives.ReadUInt16LittleEndian(bytes[4..]) : null;

    private static uint Checksum(ulong salt, long offset, ReadOnlySpan<byte> typeAndPayload)
    {
        Span<byte> prefix = stackalloc byte[ChecksumPrefixBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, salt);
        BinaryPrimitives.WriteInt64LittleEndian(prefix[8..], offset);
        BinaryPrimitives.WriteUInt32LittleEndian(prefix[16..], (uint)typeAndPayload.Length);
        return Crc32C.Append(Crc32C.Compute(prefix), typeAndPayload);
    }
}
