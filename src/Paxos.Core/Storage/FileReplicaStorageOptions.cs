using System.Globalization;

namespace Paxos.Storage;

/// <summary>
/// Where and how a <see cref="FileReplicaStorage"/> keeps its write-ahead log. Read once, when the storage
/// is built; an invalid value fails there with a message naming the option.
/// </summary>
public sealed class FileReplicaStorageOptions
{
    /// <summary>The smallest allowed <see cref="SegmentBytes"/>: 1 MiB.</summary>
    public const long MinSegmentBytes = 1L << 20;

    /// <summary>The largest allowed <see cref="SegmentBytes"/>: 1 GiB.</summary>
    public const long MaxSegmentBytes = 1L << 30;

    /// <summary>The default <see cref="SegmentBytes"/>: 64 MiB.</summary>
    public const long DefaultSegmentBytes = 64L << 20;

    /// <summary>The directory that holds the replica's files (<c>view</c>, <c>wal-00000001.log</c>, …, and a
    /// <c>lock</c> file). It is created when missing. One replica per directory; required.</summary>
    public string DataDirectory { get; set; } = string.Empty;

    /// <summary>The size of one log segment, from 1 MiB to 1 GiB. A batch that does not fit in what is left of
    /// the current segment starts a new one; a batch larger than a whole segment gets a segment of its own.
    /// Default 64 MiB.</summary>
    public long SegmentBytes { get; set; } = DefaultSegmentBytes;

    /// <summary>Whether a new segment is allocated at its full size when it is created, and written with zeros a
    /// chunk (1 MiB) ahead of the appends, so that an append neither allocates blocks, nor changes the file's size,
    /// nor turns "unwritten" blocks into written ones: its fsync then flushes data without a metadata write (a journal
    /// commit on a journaling file system), which makes it cheaper. The end of the data is marked by zeros.
    /// Default true.</summary>
    public bool PreallocateSegments { get; set; } = true;

    /// <summary>Whether the storage calls fsync where the durability contract needs it. Default true.
    /// <b>Unsafe when false</b>: batches are only handed to the operating system, so a power failure or an
    /// operating-system crash can lose state the replica already promised to its peers, which can break
    /// agreement. Only for benchmarks that measure everything but the disk.</summary>
    public bool SyncEnabled { get; set; } = true;

    /// <summary>Which replica of which cluster the directory belongs to. Set (a <see cref="PaxosNode"/> sets it from its
    /// options on a storage that has none): the storage records it in the directory's <c>identity</c> file when it
    /// first starts there, and refuses to start on a directory recorded for another replica id, cluster id or
    /// cluster size. Null (the default, for a storage used on its own): nothing is recorded or checked.</summary>
    public ReplicaIdentity? Identity { get; set; }

    /// <summary>Throws when an option is out of range; the message names it, its value and the allowed range.</summary>
    internal static void ThrowIfInvalid(FileReplicaStorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.DataDirectory))
        {
            throw new ArgumentException("FileReplicaStorageOptions.DataDirectory must name a directory; it is empty.", nameof(options));
        }

        if (options.SegmentBytes is < MinSegmentBytes or > MaxSegmentBytes)
        {
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture, $"FileReplicaStorageOptions.SegmentBytes must be from {MinSegmentBytes} (1 MiB) to {MaxSegmentBytes} (1 GiB); it is {options.SegmentBytes}."),
                nameof(options));
        }
    }
}
