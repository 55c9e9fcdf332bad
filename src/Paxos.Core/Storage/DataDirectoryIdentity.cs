using System.Buffers.Binary;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Paxos.Diagnostics;

namespace Paxos.Storage;

/// <summary>
/// The <c>identity</c> file of a data directory, and the checks the storage makes on it before recovery reads
/// anything: that the directory belongs to this replica of this cluster, and that its files are of formats this
/// version reads.
/// </summary>
/// <remarks>
/// <para>The file is 24 bytes, little-endian:</para>
/// <code>
///  0 u32 magic "PXID"   4 u16 version (1)   6 u16 file length (24)
///  8 u32 cluster id    12 u16 cluster size  14 u16 replica id
/// 16 u32 reserved (0)  20 u32 CRC-32C of bytes [0, 20)
/// </code>
/// <para>It is written once, when the storage first starts in the directory: to <c>identity.tmp</c>, fsynced,
/// renamed into place, and the directory fsynced, so a crash leaves it whole or absent. A directory that holds a
/// log or a view but no identity file was written by a version that did not record one; it is the same format, so
/// the identity is recorded then (with a warning), which trusts that first start to be on the right directory.</para>
/// </remarks>
internal static class DataDirectoryIdentity
{
    public const string FileName = "identity";
    public const string TempFileName = "identity.tmp";
    public const int FileBytes = 24;

    private const uint Magic = 0x4449_5850; // "PXID"
    private const ushort FormatVersion = 1;

    /// <summary>Refuses a directory recorded for another identity or written in a newer format; records
    /// <paramref name="expected"/> in a directory that has no identity yet.</summary>
    /// <exception cref="IOException">The directory belongs to another replica or cluster, or a file in it is of a
    /// newer format than this version reads; the message names both values and what to do.</exception>
    /// <exception cref="StorageCorruptionException">The identity file is damaged.</exception>
    public static void CheckOrRecord(string directory, ReplicaIdentity expected, bool syncEnabled, StorageCounters counters, ILogger logger)
    {
        var path = Path.Combine(directory, FileName);
        var temp = Path.Combine(directory, TempFileName);
        if (File.Exists(temp))
        {
            File.Delete(temp); // Written aside but never renamed: no start ever relied on it.
        }

        if (File.Exists(path))
        {
            var recorded = Read(path);
            if (recorded != expected)
            {
                throw new IOException(string.Create(CultureInfo.InvariantCulture,
                    $"The data directory {directory} belongs to {recorded} (recorded in {path}), but this storage was started as {expected}. " +
                    $"A replica starts only on its own directory: point the DataDirectory of replica {expected.ReplicaId.Value} at its own directory, " +
                    $"or correct its PaxosOptions (ReplicaId, ClusterSize, ClusterId) if they are what is wrong. " +
                    $"State never moves between replicas, clusters or cluster sizes: to give this replica an empty directory instead, start it with PaxosOptions.RebuildFromPeers."));
            }

            return;
        }

        var existing = HoldsState(directory);
        Write(directory, path, temp, expected, syncEnabled, counters);
        if (existing)
        {
            StorageLog.IdentityRecordedForExistingDirectory(logger, directory, expected.ToString());
        }
        else
        {
            StorageLog.IdentityRecorded(logger, directory, expected.ToString());
        }
    }

    /// <summary>Refuses a view file or a segment whose header claims a format version newer than this version
    /// writes, rather than let recovery call it damage (or cut a segment it cannot read as a torn one). Files whose
    /// headers read fine, or whose magic is wrong, are left to recovery.</summary>
    /// <exception cref="IOException">A file is of a newer format; the message names its version.</exception>
    public static void ThrowIfNewerFormat(string directory)
    {
        var view = Path.Combine(directory, WalFormat.ViewFileName);
        if (File.Exists(view))
        {
            var bytes = ReadStart(view, WalFormat.ViewFileBytes);
            if (!WalFormat.TryReadViewFile(bytes, out _, out _) && WalFormat.ClaimedViewVersion(bytes) is { } version && version > WalFormat.HighestViewVersion)
            {
                throw Newer(view, "view file", version, WalFormat.HighestViewVersion);
            }
        }

        foreach (var segment in Directory.EnumerateFiles(directory, "wal-*.log"))
        {
            var header = ReadStart(segment, WalFormat.SegmentHeaderBytes);
            if (!WalFormat.TryReadSegmentHeader(header, out _, out _) && WalFormat.ClaimedSegmentVersion(header) is { } version && version > WalFormat.HighestSegmentVersion)
            {
                throw Newer(segment, "log segment", version, WalFormat.HighestSegmentVersion);
            }
        }

        foreach (var snapshot in SnapshotFiles.Enumerate(directory))
        {
            if (SnapshotFormat.ClaimedVersion(ReadStart(snapshot, 8)) is { } version && version > SnapshotFormat.FormatVersion)
            {
                throw Newer(snapshot, "snapshot", version, SnapshotFormat.FormatVersion);
            }
        }

        var identity = Path.Combine(directory, FileName);
        if (File.Exists(identity) && ClaimedVersion(ReadStart(identity, FileBytes)) is { } claimed && claimed > FormatVersion)
        {
            throw Newer(identity, "identity file", claimed, FormatVersion);
        }
    }

    private static IOException Newer(string path, string kind, int version, int highest) =>
        new(string.Create(CultureInfo.InvariantCulture,
            $"The {kind} {path} is of format version {version}, newer than this version of Paxos.Core reads (up to {highest}): it was written by a newer version. " +
            $"Run the version that wrote it, or a later one; a data directory cannot be moved back to an older version."));

    /// <summary>Whether the directory already holds replica state: a view file or a log segment.</summary>
    private static bool HoldsState(string directory) =>
        File.Exists(Path.Combine(directory, WalFormat.ViewFileName)) || Directory.EnumerateFiles(directory, "wal-*.log").Any();

    private static ReplicaIdentity Read(string path)
    {
        var bytes = ReadStart(path, FileBytes + 1);
        if (ClaimedVersion(bytes) is { } version && version > FormatVersion)
        {
            throw Newer(path, "identity file", version, FormatVersion);
        }

        if (bytes.Length != FileBytes
            || BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(20)) != Crc32C.Compute(bytes.AsSpan(0, 20))
            || ClaimedVersion(bytes) != FormatVersion
            || BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(6)) != FileBytes
            || BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(16)) != 0)
        {
            throw new StorageCorruptionException(
                $"The identity file {path} ({bytes.Length} bytes) has a bad length, magic, version or checksum, so the storage cannot tell which replica's directory this is. " +
                "It needs an operator: restore the file from a backup of this directory, or wipe the directory and restart the replica with PaxosOptions.RebuildFromPeers.",
                path, 0);
        }

        var size = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(12));
        var replica = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(14));
        return new ReplicaIdentity(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)), size, new ReplicaId(replica));
    }

    private static void Write(string directory, string path, string temp, ReplicaIdentity identity, bool syncEnabled, StorageCounters counters)
    {
        var bytes = new byte[FileBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(4), FormatVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(6), FileBytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), identity.ClusterId);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(12), (ushort)identity.ClusterSize);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(14), (ushort)identity.ReplicaId.Value);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(20), Crc32C.Compute(bytes.AsSpan(0, 20)));

        // Whole or absent: written aside, made durable, renamed into place, and the rename made durable.
        using (var handle = File.OpenHandle(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            RandomAccess.Write(handle, bytes, 0);
            DurableIo.FlushFile(handle, syncEnabled, counters);
        }

        File.Move(temp, path, overwrite: false);
        DurableIo.FlushDirectory(directory, syncEnabled, counters);
    }

    private static int? ClaimedVersion(ReadOnlySpan<byte> bytes) => WalFormat.ClaimedVersion(bytes, Magic);

    /// <summary>The first <paramref name="count"/> bytes of a file, or all of it when it is shorter.</summary>
    private static byte[] ReadStart(string path, int count)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var buffer = new byte[(int)Math.Min(count, RandomAccess.GetLength(handle))];
        var read = 0;
        while (read < buffer.Length)
        {
            var n = RandomAccess.Read(handle, buffer.AsSpan(read), read);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        return read == buffer.Length ? buffer : buffer[..read];
    }
}
