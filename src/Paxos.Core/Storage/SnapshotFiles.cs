using System.Globalization;
using Microsoft.Extensions.Logging;
using Paxos.Diagnostics;
using Paxos.Protocol;

namespace Paxos.Storage;

/// <summary>A snapshot file the storage keeps: its sequence number, path and length, and where in this storage's
/// log it was taken (null when that is not known: a snapshot found at recovery, or received from a peer).</summary>
internal sealed record KeptSnapshot(SequenceNumber Sequence, string Path, long Length, LogPosition? Position);

/// <summary>What snapshot recovery found: the newest snapshot that verifies (null when none does), every snapshot
/// file kept (the chosen one and any older), and the damaged ones it set aside.</summary>
internal sealed record RecoveredSnapshots(StoredSnapshot? Chosen, List<KeptSnapshot> Kept, List<string> Damaged);

/// <summary>
/// The snapshot files of a data directory: <c>snapshot-NNNNNNNNNNNN.snap</c> (the sequence number, twelve digits or
/// more), written as <c>….snap.tmp</c> and renamed into place; <c>snapshot-NNNNNNNNNNNN.partial</c> while one is
/// received from a peer; <c>….snap.damaged</c> for one recovery found damaged and set aside.
/// </summary>
internal static class SnapshotFiles
{
    private const string Prefix = "snapshot-";
    private const string Extension = ".snap";
    private const string TempExtension = ".snap.tmp";
    private const string PartialExtension = ".partial";
    private const string DamagedExtension = ".snap.damaged";

    public static string PathOf(string directory, SequenceNumber sequence) => Path.Combine(directory, Name(sequence) + Extension);

    public static string TempPathOf(string directory, SequenceNumber sequence) => Path.Combine(directory, Name(sequence) + TempExtension);

    public static string PartialPathOf(string directory, SequenceNumber sequence) => Path.Combine(directory, Name(sequence) + PartialExtension);

    /// <summary>The snapshot files (<c>.snap</c>), for the format check before recovery.</summary>
    public static IEnumerable<string> Enumerate(string directory) => Directory.EnumerateFiles(directory, Prefix + "*" + Extension);

    private static string Name(SequenceNumber sequence) => string.Create(CultureInfo.InvariantCulture, $"{Prefix}{sequence.Value:D12}");

    /// <summary>Parses <c>snapshot-NNNNNNNNNNNN.snap</c> (twelve or more digits).</summary>
    public static bool TryParse(string fileName, out SequenceNumber sequence)
    {
        sequence = SequenceNumber.None;
        if (!fileName.StartsWith(Prefix, StringComparison.Ordinal) || !fileName.EndsWith(Extension, StringComparison.Ordinal))
        {
            return false;
        }

        var digits = fileName.AsSpan(Prefix.Length, fileName.Length - Prefix.Length - Extension.Length);
        if (digits.Length < 12 || !long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            return false;
        }

        sequence = new SequenceNumber(value);
        return true;
    }

    /// <summary>Opens a snapshot file for reading; it may be deleted (by the keep-two rule) while open.</summary>
    public static FileStream OpenRead(string path, int bufferBytes = 1 << 16) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferBytes, FileOptions.SequentialScan);

    /// <summary>Writes a file whole or not at all: to <paramref name="temp"/>, fsynced, renamed to
    /// <paramref name="path"/>, directory fsynced. A failure deletes the temporary file (a failed fsync is left to
    /// the caller, which stops the storage). Returns the file's length.</summary>
    public static long WriteDurably(string directory, string path, string temp, Action<Stream> write, bool syncEnabled, StorageCounters counters)
    {
        try
        {
            long length;
            using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(file);
                file.Flush();
                length = file.Length;
                DurableIo.FlushFile(file.SafeFileHandle, syncEnabled, counters);
            }

            File.Move(temp, path, overwrite: true);
            DurableIo.FlushDirectory(directory, syncEnabled, counters);
            return length;
        }
        catch (Exception exception) when (exception is not SyncFailedException)
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Verifies a file and returns its layout, or null (with the reason) when it is not a valid snapshot of
    /// <paramref name="sequence"/>.</summary>
    public static SnapshotFormat.Layout? TryVerify(string path, SequenceNumber sequence, out string? reason)
    {
        try
        {
            var layout = SnapshotFormat.Verify(() => OpenRead(path, bufferBytes: 0));
            if (layout.State.Sequence != sequence)
            {
                reason = string.Create(CultureInfo.InvariantCulture, $"it holds sequence number {layout.State.Sequence.Value}, not {sequence.Value}");
                return null;
            }

            reason = null;
            return layout;
        }
        catch (InvalidDataException exception)
        {
            reason = exception.Message;
            return null;
        }
    }

    /// <summary>
    /// At recovery: deletes what was never completed (<c>.snap.tmp</c>, <c>.partial</c>), then verifies the snapshots
    /// newest first until one does; each damaged one newer than it is renamed aside (<c>.snap.damaged</c>) with a
    /// warning, so that it neither counts among the two kept nor is chosen again. Older ones are kept unverified.
    /// </summary>
    public static RecoveredSnapshots Recover(string directory, bool syncEnabled, StorageCounters counters, ILogger logger)
    {
        var changed = false;
        foreach (var path in Directory.EnumerateFiles(directory, Prefix + "*"))
        {
            if (path.EndsWith(TempExtension, StringComparison.Ordinal) || path.EndsWith(PartialExtension, StringComparison.Ordinal))
            {
                File.Delete(path);
                StorageLog.DeletedUnfinishedSnapshot(logger, directory, path);
                changed = true;
            }
        }

        var found = new List<(SequenceNumber Sequence, string Path)>();
        foreach (var path in Enumerate(directory))
        {
            if (TryParse(Path.GetFileName(path), out var sequence))
            {
                found.Add((sequence, path));
            }
        }

        found.Sort((left, right) => right.Sequence.CompareTo(left.Sequence));
        StoredSnapshot? chosen = null;
        var kept = new List<KeptSnapshot>();
        var damaged = new List<string>();
        foreach (var (sequence, path) in found)
        {
            if (chosen is null)
            {
                if (TryVerify(path, sequence, out var reason) is not { } layout)
                {
                    StorageLog.SnapshotDamaged(logger, directory, path, reason!);
                    File.Move(path, Path.ChangeExtension(path, DamagedExtension), overwrite: true);
                    damaged.Add(path);
                    changed = true;
                    continue;
                }

                chosen = SnapshotFormat.Bind(layout, () => OpenRead(path));
                StorageLog.RecoveredSnapshot(logger, directory, path, sequence);
            }

            kept.Add(new KeptSnapshot(sequence, path, new FileInfo(path).Length, Position: null));
        }

        if (changed)
        {
            DurableIo.FlushDirectory(directory, syncEnabled, counters);
        }

        kept.Reverse();
        return new RecoveredSnapshots(chosen, kept, damaged);
    }

    public static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // Left behind: recovery deletes it.
        }
    }
}
