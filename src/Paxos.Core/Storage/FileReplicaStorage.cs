using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;
using Paxos.Diagnostics;
using Paxos.Protocol;

namespace Paxos.Storage;

/// <summary>
/// Stable storage in a data directory: a <c>view</c> file holding Last_Installed and Last_Attempted, and a segmented write-ahead log
/// of accepted Proposals, ordered slots and pending updates, as the authors' C implementation lays it out
/// (docs/protocol-notes.md, "Stable storage and recovery"). It loses nothing a completed
/// <see cref="PersistAsync"/> of a batch with <see cref="OutputBatch.RequiresSync"/> made durable, whether the
/// process is killed or the machine loses power.
/// </summary>
/// <remarks>
/// <para><b>Writing.</b> A batch's records are encoded into one pooled buffer and written with one positional
/// write; a batch that requires a sync then gets one fsync, which also covers every earlier batch (group commit:
/// the node gathers everything ready into one batch). Ordered slots alone are written without a sync, as the
/// contract allows. A new <see cref="OutputBatch.InstalledView"/> or
/// <see cref="OutputBatch.AttemptedView"/> replaces <c>view</c> atomically: write
/// <c>view.tmp</c>, fsync it, rename it over <c>view</c>, fsync the directory.</para>
/// <para><b>Format.</b> Segments <c>wal-00000001.log</c>, <c>wal-00000002.log</c>, … each start with a header
/// (magic, version, segment number, a random salt, CRC-32C). Records follow back to back: a u32 length, a u32
/// CRC-32C that also covers the segment's salt and the record's own offset (so a stale record cannot pass for a
/// live one anywhere else), a type byte and the payload. Each write starts with a batch record holding the offset
/// up to which the log was durable when it was written; recovery uses it to tell a torn tail (cut off) from
/// damage before durable data (refused). Updates are encoded as on the wire. All integers are little-endian.</para>
/// <para><b>Recovering.</b> <see cref="LoadAsync"/> reads the view and every segment in order and returns the
/// same state an <see cref="InMemoryReplicaStorage"/> would hold after the same batches. A write torn by a crash
/// at the end of the log is cut off (with a warning); damage anywhere else throws
/// <see cref="StorageCorruptionException"/>. Damage to the very last records of the log looks exactly like a torn
/// write and is cut off too: no log can tell them apart without a second copy.</para>
/// <para><b>Threads.</b> The calls are serialized by a lock; batches must come one at a time, in order, as
/// <see cref="IReplicaStorage"/> says. <see cref="PersistAsync"/> completes synchronously: it blocks for the write
/// and the fsync. .NET has no asynchronous fsync (an async version would only move the same blocking call to a
/// pool thread), and the node must wait for durability before it sends anyway, so blocking its loop is the
/// shortest path; the node keeps receiving into its inbox meanwhile.</para>
/// <para><b>Failures.</b> If a write or an fsync fails, or recovery does (damage, or a failed write or fsync of
/// its repairs), the storage stops (fail-stop) and refuses every further call; it never retries an fsync. After a
/// failed fsync do not simply restart the process on the same directory: Linux may keep the pages that failed in
/// its cache, marked clean, so a new process would read back records that never reached the disk, and its fsync
/// would succeed without writing them. Reboot the machine first (what is read then is what the disk holds), or
/// empty the directory and restart the replica with <see cref="PaxosOptions.RebuildFromPeers"/>. The storage
/// enforces this: a failed fsync leaves a <c>sync-failed</c> file naming the machine's boot, and recovery refuses
/// the directory (an <see cref="IOException"/>) until the machine has rebooted, then removes the file (outside
/// Linux, where the boot cannot be told, an operator deletes it after the reboot).</para>
/// <para>The directory is locked (a <c>lock</c> file held open exclusively) against a second storage, in this
/// process or another.</para>
/// <para><b>Identity.</b> With <see cref="FileReplicaStorageOptions.Identity"/> set (a <see cref="PaxosNode"/> always
/// sets it), the directory's <c>identity</c> file records which replica of which cluster it belongs to, written on the
/// first start; every later start refuses a directory recorded for another replica id, cluster id or cluster size
/// before recovery reads or repairs anything. Files of a newer format than this version reads are refused there too.</para>
/// </remarks>
public sealed partial class FileReplicaStorage : IGroupCommitStorage, ISnapshotStorage, IDisposable
{
    private readonly FileReplicaStorageOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly SafeFileHandle _directoryLock;
    private ReplicaIdentity? _identity;
    private WalSegmentWriter? _segment;
    private ViewNumber _lastInstalled;
    private ViewNumber _lastAttempted;
    private long _lastBatch;

    /// <summary>Counts the recoveries of this object: each starts an incarnation whose batch numbers start again.</summary>
    private long _incarnation;
    private Exception? _fault;
    private bool _disposed;

    /// <summary>Opens (and creates when missing, durably: each parent that gains an entry is fsynced) the data
    /// directory and locks it. Nothing is read until <see cref="LoadAsync"/> or the first <see cref="PersistAsync"/>.</summary>
    /// <param name="options">Where and how to store; read once, here.</param>
    /// <param name="logger">Where recovery and failures are logged; nowhere when null.</param>
    /// <exception cref="ArgumentException">An option is out of range; the message names it.</exception>
    /// <exception cref="IOException">The directory cannot be created (or the fsync of its parent failed), or another
    /// storage holds it.</exception>
    public FileReplicaStorage(FileReplicaStorageOptions options, ILogger? logger = null)
    {
        FileReplicaStorageOptions.ThrowIfInvalid(options);
        _options = new FileReplicaStorageOptions
        {
            DataDirectory = Path.GetFullPath(options.DataDirectory),
            SegmentBytes = options.SegmentBytes,
            PreallocateSegments = options.PreallocateSegments,
            SyncEnabled = options.SyncEnabled,
        };
        _identity = options.Identity;
        _logger = logger ?? NullLogger.Instance;
        DurableIo.CreateDirectory(_options.DataDirectory, _options.SyncEnabled, Counters);
        _directoryLock = LockDirectory(_options.DataDirectory);
    }

    /// <summary>The data directory, as a full path.</summary>
    public string DataDirectory => _options.DataDirectory;

    /// <summary>What the storage did: batches, records, bytes, fsyncs and their time, and the latest recovery.</summary>
    public StorageCounters Counters { get; } = new();

    /// <summary>The segment being appended to; for tests.</summary>
    internal string? ActiveSegmentPath => _segment?.Path;

    /// <summary>The active segment's write buffer, in bytes; for tests.</summary>
    internal int WriteBufferBytes => _segment?.BufferBytes ?? 0;

    /// <summary>Where the next batch goes in the active segment; for tests.</summary>
    internal long AppendOffset => _segment?.Offset ?? 0;

    /// <inheritdoc />
    /// <remarks>Reads the directory from disk every time, repairing a torn tail; after it the storage appends
    /// after the last intact record. It marks a new incarnation of the replica, whose batch numbers start again.</remarks>
    /// <exception cref="StorageCorruptionException">The log, the <c>view</c> file or the <c>identity</c> file is damaged.</exception>
    /// <exception cref="IOException">An fsync failed in this directory and the machine has not rebooted since (see
    /// the remarks on failures); the directory is recorded for another replica, cluster id or cluster size than
    /// <see cref="FileReplicaStorageOptions.Identity"/>; a file in it is of a newer format than this version reads;
    /// or a read, write or fsync of recovery failed.</exception>
    public ValueTask<PersistentState> LoadAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();

        // Waits for a snapshot being written or received to finish: recovery rereads (and tidies) the snapshot files.
        lock (_snapshotGate)
        lock (_receiveGate)
        lock (_gate)
        {
            ThrowIfUnusable();
            var state = Recover().State;
            if (!File.Exists(RebuildMarkerPath))
            {
                return ValueTask.FromResult(state);
            }

            return ValueTask.FromResult(new PersistentState
            {
                LastInstalled = state.LastInstalled,
                Snapshot = state.Snapshot,
                AcceptedProposals = state.AcceptedProposals,
                OrderedSlots = state.OrderedSlots,
                PendingUpdates = state.PendingUpdates,
                RequiresRebuild = true,
            });
        }
    }

    /// <inheritdoc />
    /// <remarks>Completes synchronously, once the batch is written and, if it requires a sync, fsynced. An empty
    /// batch, or one with nothing durable in it, writes nothing.</remarks>
    /// <exception cref="InvalidOperationException">The batch is not newer than the last one, or the storage
    /// stopped after a failed write.</exception>
    /// <exception cref="ArgumentException">The batch holds something the log cannot represent (a bug in the caller).</exception>
    public ValueTask PersistAsync(OutputBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        cancellationToken.ThrowIfCancellationRequested();
        PersistAll(new ReadOnlySpan<OutputBatch>(in batch));
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Group commit across batches: writes <paramref name="batches"/> in order and fsyncs once, at the end, if any of
    /// them requires it — the same durable state as persisting them one by one, with one fsync instead of several.
    /// <see cref="PaxosNode"/> hands its writer thread everything the loop produced during the previous fsync.
    /// </summary>
    /// <exception cref="InvalidOperationException">A batch is not newer than the one before it, or the storage
    /// stopped after a failed write.</exception>
    public void PersistAll(ReadOnlySpan<OutputBatch> batches)
    {
        lock (_gate)
        {
            ThrowIfUnusable();
            var owed = false;
            try
            {
                for (var i = 0; i < batches.Length; i++)
                {
                    owed = Persist(batches[i], owed, last: i == batches.Length - 1);
                }
            }
            finally
            {
                // Also when a later batch was refused (out of order, or unrepresentable): the earlier ones were taken.
                if (_fault is null)
                {
                    WritePending();
                }
            }
        }
    }

    /// <summary>Writes out what the segment still buffers (records of batches that needed no sync): every call
    /// leaves the file holding all it was given, as a write per batch would.</summary>
    private void WritePending()
    {
        try
        {
            _segment?.WritePending();
        }
        catch (Exception exception) when (Fault(exception))
        {
            throw;
        }
    }

    /// <summary>Writes one batch; fsyncs when <paramref name="last"/> and a sync is owed (by this batch or, when
    /// <paramref name="syncOwed"/>, an earlier one). Returns whether a sync is still owed.</summary>
    private bool Persist(OutputBatch batch, bool syncOwed, bool last)
    {
        if (batch.Number == 0 || batch.IsEmpty)
        {
            if (last && syncOwed)
            {
                SyncLog();
            }

            return syncOwed && !last;
        }

        if (batch.Number <= _lastBatch)
        {
            throw new InvalidOperationException($"Batch {batch.Number} arrived after batch {_lastBatch}; batches must be persisted once each, in order.");
        }

        // A host that never loaded still appends after the last intact record, never over it.
        if (_segment is null)
        {
            Recover();
        }

        // Measuring validates the whole batch before any byte is written.
        var bytes = WalBatchEncoder.Measure(batch, out var records);
        var installed = batch.InstalledView is { } newInstalled && newInstalled > _lastInstalled ? newInstalled : _lastInstalled;
        var attempted = Max(Max(_lastAttempted, installed), batch.AttemptedView ?? ViewNumber.None);
        (ViewNumber Installed, ViewNumber Attempted)? view =
            installed != _lastInstalled || attempted != _lastAttempted ? (installed, attempted) : null;
        var owed = syncOwed || batch.RequiresSync;
        try
        {
            owed = Write(batch, bytes, view, owed, syncNow: last);
        }
        catch (Exception exception) when (Fault(exception))
        {
            throw;
        }

        _lastBatch = batch.Number;
        if (bytes > 0 || view.HasValue || batch.RebuildStarted || batch.RebuildCompleted)
        {
            Counters.CountBatch(records, bytes);
        }

        return owed;
    }

    private void SyncLog()
    {
        try
        {
            if (_segment is { IsDirty: true } segment)
            {
                segment.Sync();
            }
        }
        catch (Exception exception) when (Fault(exception))
        {
            throw;
        }
    }

    /// <summary>Closes the files and releases the directory. Idempotent. Ordered slots written without a sync are
    /// left to the operating system, which writes them out unless the machine fails first (the contract allows
    /// losing them).</summary>
    /// <remarks>Waits for a snapshot being written on another thread to be finished.</remarks>
    public void Dispose()
    {
        lock (_snapshotGate)
        lock (_receiveGate)
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            CloseReceive();
            _segment?.Dispose();
            _segment = null;
            _directoryLock.Dispose();
        }
    }

    /// <summary>Recovers the directory: the snapshots, then the log. Called under every lock, or (by a storage
    /// that persists before it ever loaded) under <see cref="_gate"/> alone, when no snapshot can be in flight.</summary>
    private RecoveredLog Recover()
    {
        _segment?.Dispose();
        _segment = null;
        CloseReceive();
        RecoveredLog recovered;
        RecoveredSnapshots snapshots;
        try
        {
            RefuseAfterSyncFailure();
            CheckDirectory();
            snapshots = SnapshotFiles.Recover(_options.DataDirectory, _options.SyncEnabled, Counters, _logger);
            ThrowIfLogNeedsSnapshot(snapshots);
            recovered = WalRecovery.Run(_options.DataDirectory, _options, Counters, _logger);
        }
        catch (Exception exception) when (Fault(exception))
        {
            // Never reached (Fault returns false). A recovery that failed — damage, or a failed write or fsync of
            // the repairs it makes — is not run again by this storage: running its fsync again could report success
            // for pages a failed one dropped (see the remarks on failures).
            throw;
        }

        _segment = recovered.Active;
        _lastInstalled = recovered.State.LastInstalled;
        _lastAttempted = recovered.State.LastAttempted;
        _lastBatch = 0;
        _incarnation++;
        _segments.Reset(recovered.SegmentSlots);
        _snapshots.Clear();
        _snapshots.AddRange(snapshots.Kept);
        return recovered with { State = WithSnapshot(recovered.State, snapshots.Chosen) };
    }

    /// <summary>Before recovery reads (or repairs) anything: refuses files of a newer format, and a directory recorded
    /// for another identity; records the identity in a directory that has none.</summary>
    private void CheckDirectory()
    {
        DataDirectoryIdentity.ThrowIfNewerFormat(_options.DataDirectory);
        if (_identity is { } identity)
        {
            DataDirectoryIdentity.CheckOrRecord(_options.DataDirectory, identity, _options.SyncEnabled, Counters, _logger);
        }
    }

    /// <summary>
    /// Gives the storage the identity of the node that uses it (<see cref="PaxosNode"/> calls it when it is built). A
    /// storage built without <see cref="FileReplicaStorageOptions.Identity"/> takes it (and checks or records it in
    /// the directory, now if it already recovered, else when it does); one built with another refuses.
    /// </summary>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">The storage was built for another
    /// identity; the message names both.</exception>
    public void ExpectIdentity(ReplicaIdentity expected)
    {
        lock (_gate)
        {
            if (_identity is { } configured)
            {
                if (configured != expected)
                {
                    throw new Microsoft.Extensions.Options.OptionsValidationException(
                        Microsoft.Extensions.Options.Options.DefaultName,
                        typeof(FileReplicaStorageOptions),
                        [$"FileReplicaStorageOptions.Identity is {configured}, but the node's PaxosOptions describe {expected}; a storage serves one replica."]);
                }

                return;
            }

            _identity = expected;
            if (_segment is not null)
            {
                ThrowIfUnusable();
                try
                {
                    DataDirectoryIdentity.CheckOrRecord(_options.DataDirectory, expected, _options.SyncEnabled, Counters, _logger);
                }
                catch (Exception exception) when (Fault(exception))
                {
                    throw;
                }
            }
        }
    }

    /// <summary>The log records first, then the view, then the one fsync of the log. A crash anywhere in between
    /// leaves some of the batch's records and maybe its view (and, in a group of <see cref="PersistAll"/>, some of
    /// the earlier batches' records): any such mix is a state the replica could have crashed in, since no message
    /// of any batch in the group was sent yet.</summary>
    /// <returns>Whether a sync is still owed: <paramref name="syncOwed"/>, unless this call synced.</returns>
    private bool Write(OutputBatch batch, int bytes, (ViewNumber Installed, ViewNumber Attempted)? view, bool syncOwed, bool syncNow)
    {
        // The marker goes first, so that no record of a rebuilding replica is ever durable without it.
        if (batch.RebuildStarted)
        {
            WriteRebuildMarker();
        }

        if (bytes > 0)
        {
            Append(batch, bytes);
        }

        if (view is { } views)
        {
            ReplaceView(views.Installed, views.Attempted);
            _lastInstalled = views.Installed;
            _lastAttempted = views.Attempted;
        }

        // "A sync is owed" rather than "this batch wrote something": a batch that must be durable also makes the
        // ordered slots of earlier batches durable, as the contract promises. A batch that completes a rebuild
        // syncs at once, whatever follows it, because its marker goes only after everything before it is durable.
        if (syncOwed && (syncNow || batch.RebuildCompleted))
        {
            if (_segment!.IsDirty)
            {
                _segment.Sync();
            }

            syncOwed = false;
        }

        // Removed last: the replica votes again only once everything it learned while rebuilding is durable.
        if (batch.RebuildCompleted && File.Exists(RebuildMarkerPath))
        {
            File.Delete(RebuildMarkerPath);
            DurableIo.FlushDirectory(_options.DataDirectory, _options.SyncEnabled, Counters);
        }

        return syncOwed;
    }

    /// <summary>The file whose presence says the replica is rebuilding lost state (docs/protocol-notes.md,
    /// "Rebuilding a lost disk").</summary>
    private string RebuildMarkerPath => Path.Combine(_options.DataDirectory, "rebuilding");

    private void WriteRebuildMarker()
    {
        using (var handle = File.OpenHandle(RebuildMarkerPath, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            RandomAccess.Write(handle, "rebuilding from peers\n"u8, 0);
            DurableIo.FlushFile(handle, _options.SyncEnabled, Counters);
        }

        DurableIo.FlushDirectory(_options.DataDirectory, _options.SyncEnabled, Counters);
    }

    private void Append(OutputBatch batch, int bytes)
    {
        var segment = _segment!;
        if (segment.HasRecords && segment.Offset + bytes > _options.SegmentBytes)
        {
            segment = Roll(segment);
        }

        var records = segment.BeginAppend(bytes);
        WalBatchEncoder.Encode(batch, segment.DurableOffset, records, segment.Offset, segment.Salt);
        segment.EndAppend(bytes);
        _segments.Appended(segment.Number, _incarnation, batch.Number, MaxSlot(batch));
    }

    /// <summary>The highest slot a batch's records hold (a Proposal's last, or an ordered slot); 0 when none.</summary>
    private static long MaxSlot(OutputBatch batch)
    {
        var max = 0L;
        var proposals = batch.AcceptedProposals;
        for (var i = 0; i < proposals.Count; i++)
        {
            max = Math.Max(max, proposals[i].FirstSequence.Value + proposals[i].Updates.Count - 1);
        }

        var ordered = batch.OrderedSlots;
        for (var i = 0; i < ordered.Count; i++)
        {
            max = Math.Max(max, ordered[i].Sequence.Value);
        }

        return max;
    }

    /// <summary>Starts the next segment. The current one is made durable in full first, so that recovery can
    /// treat any damage in a segment that is not the last as damage, never as a torn write.</summary>
    private WalSegmentWriter Roll(WalSegmentWriter current)
    {
        if (current.IsDirty)
        {
            current.Sync();
        }

        var next = WalSegmentWriter.Create(_options.DataDirectory, current.Number + 1, _options, Counters);
        current.Dispose();
        _segment = next;
        StorageLog.StartedSegment(_logger, _options.DataDirectory, next.Path);
        return next;
    }

    /// <summary>Replaces <c>view</c> atomically: a crash leaves either the old file or the new one, whole.</summary>
    private void ReplaceView(ViewNumber installed, ViewNumber attempted)
    {
        var directory = _options.DataDirectory;
        var temp = Path.Combine(directory, WalFormat.ViewTempFileName);
        Span<byte> file = stackalloc byte[WalFormat.ViewFileBytes];
        WalFormat.WriteViewFile(file, installed, attempted);
        using (var handle = File.OpenHandle(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            RandomAccess.Write(handle, file, 0);
            DurableIo.FlushFile(handle, _options.SyncEnabled, Counters);
        }

        File.Move(temp, Path.Combine(directory, WalFormat.ViewFileName), overwrite: true);
        DurableIo.FlushDirectory(directory, _options.SyncEnabled, Counters);
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_fault is not null)
        {
            throw new InvalidOperationException($"The storage in {_options.DataDirectory} stopped after a failed write, fsync or recovery ({_fault.Message}). After a failed fsync, reboot before the directory is used again, or empty it and rebuild the replica from its peers.", _fault);
        }
    }

    /// <summary>Marks the storage stopped (fail-stop) and, after a failed fsync, leaves the <c>sync-failed</c> file;
    /// used as an exception filter, so it never catches.</summary>
    private bool Fault(Exception exception)
    {
        // Filters run at every level the exception passes on its way out: only the first one acts.
        if (_fault is not null)
        {
            return false;
        }

        _fault = exception;
        StorageLog.Faulted(_logger, _options.DataDirectory, exception);
        if (exception is SyncFailedException)
        {
            RecordSyncFailure(exception); // The filters see it as DurableIo threw it: nothing here wraps it.
        }

        return false;
    }

    private string SyncFailedPath => Path.Combine(_options.DataDirectory, WalFormat.SyncFailedFileName);

    /// <summary>
    /// Leaves the <c>sync-failed</c> file in the data directory: the boot of the machine it happened in, when, and
    /// the error. What matters is a restart before the machine reboots, when the kernel's cache — where this file is
    /// too, even if the disk refuses it — still holds the pages that failed; so the file is written, an fsync of it
    /// is tried, and a failure of either is logged and otherwise ignored.
    /// </summary>
    private void RecordSyncFailure(Exception failure)
    {
        var text = string.Create(CultureInfo.InvariantCulture,
            $"boot {BootId() ?? UnknownBoot}\nat {DateTime.UtcNow:O}\n{failure.Message.ReplaceLineEndings(" ")}\n");
        var temp = SyncFailedPath + ".tmp";
        try
        {
            // Whole or absent: written aside, then renamed into place.
            using (var handle = File.OpenHandle(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                RandomAccess.Write(handle, Encoding.UTF8.GetBytes(text), 0);
                try
                {
                    DurableIo.Fsync(handle, directory: null);
                }
                catch (IOException)
                {
                    // The disk failed already; the cached copy is what a restart in this boot reads.
                }
            }

            File.Move(temp, SyncFailedPath, overwrite: true);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            StorageLog.SyncFailureNotRecorded(_logger, _options.DataDirectory, SyncFailedPath, exception);
        }
    }

    /// <summary>
    /// Refuses a directory whose storage saw an fsync fail in this boot of the machine (see the remarks on
    /// failures); after a reboot, removes the record and lets recovery go on. Where the boot cannot be told
    /// (outside Linux), refuses until an operator deletes the file.
    /// </summary>
    /// <exception cref="IOException">An fsync failed in this boot, or the boot cannot be told.</exception>
    private void RefuseAfterSyncFailure()
    {
        var path = SyncFailedPath;
        if (!File.Exists(path))
        {
            return;
        }

        var lines = File.ReadAllLines(path);
        var recorded = lines.Length > 0 && lines[0].StartsWith("boot ", StringComparison.Ordinal) ? lines[0][5..] : UnknownBoot;
        var failure = lines.Length > 1 ? string.Join(", ", lines.Skip(1)) : "no details recorded";
        var current = BootId();
        if (current is not null && recorded != UnknownBoot && recorded != current)
        {
            StorageLog.SyncFailureCleared(_logger, _options.DataDirectory, path, failure);
            File.Delete(path);
            DurableIo.FlushDirectory(_options.DataDirectory, _options.SyncEnabled, Counters);
            return;
        }

        var since = current is null || recorded == UnknownBoot
            ? "and the storage cannot tell whether the machine has restarted since: once it has, delete that file"
            : "and the machine has not restarted since: once it has, the next start removes that file";
        throw new IOException(
            $"The storage in {_options.DataDirectory} stopped after a failed fsync ({failure}; recorded in {path}), {since}. " +
            "Until then the kernel may still cache the pages that failed, marked clean, so this process would read back records that never " +
            "reached the disk. Reboot the machine first, or empty the directory and restart the replica with PaxosOptions.RebuildFromPeers.");
    }

    private const string UnknownBoot = "unknown";

    /// <summary>This boot of the machine, from Linux's <c>boot_id</c>; null where there is none.</summary>
    private static string? BootId()
    {
        try
        {
            return OperatingSystem.IsLinux() ? File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim() : null;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static SafeFileHandle LockDirectory(string directory)
    {
        var path = Path.Combine(directory, WalFormat.LockFileName);
        try
        {
            return File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException exception)
        {
            throw new IOException($"The data directory {directory} is in use: its lock file {path} is held by another storage ({exception.Message}). One replica, one directory.", exception);
        }
    }

    private static ViewNumber Max(ViewNumber left, ViewNumber right) => left > right ? left : right;
}
