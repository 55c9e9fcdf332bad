using Paxos.Messages;
using Paxos.Protocol;
using Paxos.Storage;
using Paxos.Transport;

namespace Paxos.Hosting;

/// <summary>
/// Runs one <see cref="PaxosReplica"/> against its storage and its transport under the output-batch contract, on one
/// thread: inputs go in (<see cref="Step"/>, <see cref="Tick()"/>, <see cref="Submit"/>), and <see cref="Drain"/>
/// applies what the replica asks for — immediate messages, replies, persistence, then the batch's messages and its
/// acknowledgement, in batch order. It is the one place that rule is written: <see cref="PaxosNode"/> runs it on its
/// loop, and the simulator, the benchmarks and the test fixtures run the same class.
/// </summary>
/// <remarks>
/// <para>The driver holds no lock and starts no thread: every member must be called by one thread at a time (the
/// host's loop). A host that persists on a thread of its own hands the driver an <see cref="IBatchWriter"/>: batches
/// that need an fsync then go to it and come back durable, and the driver acknowledges and sends them in order at the
/// next <see cref="Drain"/> (pipelined group commit, with up to <see cref="MaxBatchesInFlight"/> batches in flight).
/// Without one, each batch is persisted on the caller's thread through <see cref="IReplicaStorage.PersistAsync"/>
/// before its messages leave.</para>
/// <para>An exception from the storage, the writer or the replica propagates out of the call that met it; the
/// driver must not be used afterwards (the host fails stop).</para>
/// </remarks>
public sealed class ReplicaDriver
{
    /// <summary>The most batches handed to the <see cref="IBatchWriter"/> and not yet taken back: at this many the
    /// driver leaves further output in the replica (and <see cref="AtWriteCap"/> tells the host to stop feeding it) until
    /// the disk catches up, so the queue is bounded by the disk's pace.</summary>
    public const int MaxBatchesInFlight = 64;

    private readonly PaxosReplica _replica;
    private readonly IReplicaStorage _storage;
    private readonly ITransport _transport;
    private readonly IBatchWriter? _writer;
    private readonly IReplicaDriverObserver _observer;
    private readonly int _clusterSize;
    private readonly CancellationToken _cancellation;
    private readonly List<OutputBatch> _durable = [];

    /// <summary>The storage's snapshot side, when it keeps snapshots; null otherwise (no snapshot is made durable, so
    /// the replica releases nothing, and no state transfer happens).</summary>
    private readonly ISnapshotStorage? _snapshots;

    /// <summary>Writes snapshots away from this thread; null to write them here.</summary>
    private readonly ISnapshotWriter? _snapshotWriter;

    /// <summary>The snapshot being received from a peer, if any.</summary>
    private Transfer? _receiving;

    /// <summary>Creates a driver for a replica that was just built from its storage's recovered state.</summary>
    /// <param name="replica">The replica; only this driver may call its <c>Step</c>, <c>Tick</c>, <c>Submit</c> and
    /// output members from now on.</param>
    /// <param name="storage">Where batches are persisted when they are persisted on the caller's thread.</param>
    /// <param name="transport">Where messages go; broadcasts are sent to each other replica in turn.</param>
    /// <param name="clusterSize">N, the number of replicas.</param>
    /// <param name="writer">Persists batches on another thread (or, in a simulation, later); null to persist every batch on
    /// the caller's thread.</param>
    /// <param name="observer">Told about replies and about each batch's progress; null for none.</param>
    /// <param name="snapshotWriter">Writes snapshots on another thread; null to write them on the caller's (with a
    /// storage that keeps snapshots, <see cref="ISnapshotStorage"/>).</param>
    /// <param name="cancellation">Passed to <see cref="IReplicaStorage.PersistAsync"/>.</param>
    public ReplicaDriver(
        PaxosReplica replica,
        IReplicaStorage storage,
        ITransport transport,
        int clusterSize,
        IBatchWriter? writer = null,
        IReplicaDriverObserver? observer = null,
        ISnapshotWriter? snapshotWriter = null,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(replica);
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentOutOfRangeException.ThrowIfLessThan(clusterSize, 1);
        _replica = replica;
        _storage = storage;
        _transport = transport;
        _clusterSize = clusterSize;
        _writer = writer;
        _observer = observer ?? NoObserver.Instance;
        _cancellation = cancellation;
        _snapshots = storage as ISnapshotStorage;
        _snapshotWriter = snapshotWriter;
    }

    /// <summary>The replica this driver runs; read its status and counters here (on the driver's thread).</summary>
    public PaxosReplica Replica => _replica;

    /// <summary>Whether the writer holds <see cref="MaxBatchesInFlight"/> batches: the host should then stop feeding
    /// the replica input (leave it queued, where it is bounded) until <see cref="HasDurable"/>.</summary>
    public bool AtWriteCap => _writer is { } writer && writer.InFlight >= MaxBatchesInFlight;

    /// <summary>Whether the writer has batches (or a failure), or the snapshot writer a written snapshot, for
    /// <see cref="Drain"/> to take back.</summary>
    public bool HasDurable => _writer?.HasDurable == true || _snapshotWriter?.HasWritten == true;

    /// <summary>Hands the replica a peer's message; pieces of snapshots (state transfer) are the driver's own.</summary>
    public void Step(PaxosMessage message)
    {
        switch (message)
        {
            case SnapshotChunk chunk when _snapshots is not null:
                OnSnapshotChunk(chunk);
                break;
            case SnapshotChunkRequest request when _snapshots is not null:
                OnSnapshotChunkRequest(request);
                break;
            default:
                _replica.Step(message);
                break;
        }
    }

    /// <summary>Gives the replica one clock tick, and a snapshot being received one more tick without progress.</summary>
    public void Tick() => Tick(1);

    /// <summary>Gives the replica <paramref name="ticks"/> clock ticks at once (<see cref="PaxosReplica.Tick(int)"/>),
    /// and a snapshot being received as many ticks without progress.</summary>
    /// <param name="ticks">How many ticks passed; at least 1.</param>
    public void Tick(int ticks)
    {
        _replica.Tick(ticks);
        if (_receiving is { } transfer && (transfer.IdleTicks += ticks) >= TransferRetryTicks)
        {
            transfer.IdleTicks = 0;
            if (++transfer.Retries > TransferRetries)
            {
                // The peer is gone or no longer has it: the replica's catch-up gets a new offer from someone.
                _receiving = null;
                _replica.Counters.SnapshotTransfersFailed++;
            }
            else
            {
                Send(transfer.Peer, new SnapshotChunkRequest(_replica.Id, transfer.Sequence, _snapshots!.ReceivedBytes(transfer.Sequence)));
            }
        }
    }

    /// <summary>Hands the replica a local client's update.</summary>
    /// <returns>What the replica did with it; its answer comes later, through
    /// <see cref="IReplicaDriverObserver.OnReplies"/>.</returns>
    public SubmitStatus Submit(ClientUpdate update) => _replica.Submit(update);

    /// <summary>Hands the replica a local client's linearizable read.</summary>
    /// <remarks>Its answer comes later, through <see cref="IReplicaDriverObserver.OnReads"/>.</remarks>
    public void RequestRead(ReadRequestId read) => _replica.RequestRead(read);

    /// <summary>
    /// Acknowledges and sends what the writer made durable, then applies the replica's output until it has none (or the
    /// writer is at its cap). For each batch, in order: its immediate messages leave; its replies go to the observer;
    /// it is persisted — here, or by the writer — and only once it and every batch before it are durable do its
    /// messages leave, after which the replica is told (<see cref="PaxosReplica.AcknowledgePersisted"/>).
    /// </summary>
    public void Drain()
    {
        AcknowledgeDurable();
        ProcessOutput();
    }

    /// <summary>Sends, then acknowledges, the batches the writer made durable, oldest first. A host calls it (or
    /// <see cref="Drain"/>) before it feeds the replica new input, so that a lifted cap lets that input in.</summary>
    /// <exception cref="IOException">The writer failed: the batch it was writing and every later one are not durable.</exception>
    public void AcknowledgeDurable()
    {
        while (_snapshotWriter is { HasWritten: true } snapshotWriter && snapshotWriter.TryTakeWritten(out var written))
        {
            _replica.AcknowledgeSnapshot(written);
        }

        if (_writer is not { HasDurable: true } writer)
        {
            return;
        }

        writer.TakeDurable(_durable);
        if (_durable.Count == 0)
        {
            return;
        }

        // Their messages first, with one flush for them all (the messages of several batches to the same peer share
        // datagrams), then the acknowledgements. A durable batch's messages depend on nothing the acknowledgement
        // does, and it may do much: a non-leader that now holds a quorum with its own acceptance orders and executes
        // the slots right there (in the default mode, every Proposal's), and its Accept — what the leader waits for —
        // would wait for that execution.
        foreach (var batch in _durable)
        {
            Send(batch.Messages, flush: false);
        }

        _transport.Flush();
        foreach (var batch in _durable)
        {
            Acknowledge(batch, syncedHere: false);
        }

        _durable.Clear();
    }

    /// <summary>Applies output batches until the replica has nothing more to say or the writer is at its cap.</summary>
    public void ProcessOutput()
    {
        while (!AtWriteCap)
        {
            var batch = _replica.TakeOutput();
            if (batch.IsEmpty)
            {
                break;
            }

            _observer.OnBatchTaken(batch);

            // Immediate messages and replies depend on nothing this batch persists (OutputBatch says why), so they
            // go before the batch is durable.
            Send(batch.ImmediateMessages);
            if (batch.Replies.Count > 0)
            {
                _observer.OnReplies(batch);
            }

            if (batch.ReadsReady.Count > 0 || batch.ReadsFailed.Count > 0)
            {
                // Now, before the replica executes anything more: the executor has executed through each ready read's
                // index, and a read may see more.
                _observer.OnReads(batch);
            }

            foreach (var peer in batch.SnapshotOffers)
            {
                OfferSnapshot(peer);
            }

            if (_writer is { } writer && (writer.InFlight > 0 || (batch.RequiresSync && !_observer.MaySyncHere(batch))))
            {
                // Through the writer: durable later, after every batch before it; acknowledged and sent by a later
                // AcknowledgeDurable. Whatever the host feeds the replica meanwhile is written together and covered by
                // the writer's next fsync.
                writer.Enqueue(batch);
                continue;
            }

            // Here: nothing before it in flight, and either nothing to fsync (its ordered slots, if any, take one
            // write without a sync, and its messages leave at once) or an fsync the observer lets this thread wait for.
            Persist(batch);
            Send(batch.Messages); // Before the acknowledgement, which may order and execute: see AcknowledgeDurable.
            Acknowledge(batch, syncedHere: batch.RequiresSync && _writer is not null);
        }
    }

    private void Persist(OutputBatch batch)
    {
        var persisted = _storage.PersistAsync(batch, _cancellation);
        if (persisted.IsCompletedSuccessfully)
        {
            persisted.GetAwaiter().GetResult();
        }
        else
        {
            persisted.AsTask().GetAwaiter().GetResult();
        }
    }

    private void Acknowledge(OutputBatch batch, bool syncedHere)
    {
        _replica.AcknowledgePersisted(batch.Number);
        _observer.OnAcknowledged(batch, syncedHere);
        if (batch.Snapshot is { } snapshot)
        {
            // Durable now, with the pending updates it wrote again: the snapshot may be written, at its own pace.
            WriteSnapshot(snapshot);
        }

        _replica.ReleaseOutput(batch);
    }

    /// <summary>Makes a snapshot durable — through the snapshot writer, or here — and tells the replica once it is. Without
    /// a storage that keeps snapshots, the capture is let go and the replica never told, so it releases nothing.</summary>
    private void WriteSnapshot(TakenSnapshot snapshot)
    {
        if (_snapshots is null)
        {
            snapshot.Executor.Dispose();
            return;
        }

        if (_snapshotWriter is { } writer)
        {
            writer.Write(snapshot);
            return;
        }

        try
        {
            _snapshots.WriteSnapshot(snapshot);
        }
        finally
        {
            snapshot.Executor.Dispose();
        }

        _replica.AcknowledgeSnapshot(snapshot.State.Sequence);
    }

    // ---- State transfer: snapshot files in pieces, one piece in flight, the receiver asking for each. ----

    /// <summary>Ticks without a piece before the receiver asks again.</summary>
    private const int TransferRetryTicks = 20;

    /// <summary>Times the receiver asks again without progress before it gives the transfer up.</summary>
    private const int TransferRetries = 5;

    private int ChunkBytes => _replica.Options.MaxMessageBytes - MessageSizes.SnapshotChunkOverheadBytes;

    /// <summary>Offers a peer that asked for released slots this replica's newest snapshot: its first piece.</summary>
    private void OfferSnapshot(ReplicaId peer)
    {
        if (_snapshots?.NewestSnapshot is { } newest)
        {
            SendPiece(peer, newest.Sequence, newest.Length, 0);
        }
    }

    /// <summary>Sends the piece of snapshot <paramref name="sequence"/> that starts at <paramref name="offset"/>; the newest
    /// snapshot from its start instead when that one is no longer kept.</summary>
    private void SendPiece(ReplicaId peer, SequenceNumber sequence, long length, long offset)
    {
        var buffer = new byte[(int)Math.Min(ChunkBytes, Math.Max(0, length - offset))];
        var read = buffer.Length == 0 ? -1 : _snapshots!.ReadSnapshot(sequence, offset, buffer);
        if (read <= 0)
        {
            return;
        }

        _replica.Counters.SnapshotChunksSent++;
        Send(peer, new SnapshotChunk(_replica.Id, sequence, length, offset, buffer.AsMemory(0, read)));
    }

    private void OnSnapshotChunkRequest(SnapshotChunkRequest request)
    {
        if (request.Sender == _replica.Id || _snapshots!.NewestSnapshot is not { } newest)
        {
            return;
        }

        if (request.Sequence == newest.Sequence && request.Offset < newest.Length)
        {
            SendPiece(request.Sender, newest.Sequence, newest.Length, request.Offset);
        }
        else if (request.Sequence != newest.Sequence)
        {
            SendPiece(request.Sender, newest.Sequence, newest.Length, 0); // A newer one replaced it: start that.
        }
    }

    /// <summary>Keeps a piece that continues the snapshot being received (a newer snapshot replaces an older one being
    /// received), asks for the next, and once the file is whole verifies it, makes it durable and installs it.</summary>
    private void OnSnapshotChunk(SnapshotChunk chunk)
    {
        var snapshots = _snapshots!;
        var sequence = chunk.Sequence;
        if (chunk.Sender == _replica.Id || sequence.Value <= _replica.Status.LocalAru.Value
            || (_receiving is { } current && current.Sequence.Value > sequence.Value))
        {
            return; // Not needed, or older than the one being received.
        }

        if (_receiving is not { } transfer || transfer.Sequence != sequence)
        {
            transfer = new Transfer(sequence, chunk.TotalBytes, chunk.Sender);
            _receiving = transfer;
        }
        else if (chunk.TotalBytes != transfer.Length)
        {
            return; // Not the same file: ignored.
        }

        var held = snapshots.ReceivedBytes(sequence);
        if (chunk.Offset != held)
        {
            if (chunk.Offset > held)
            {
                Send(chunk.Sender, new SnapshotChunkRequest(_replica.Id, sequence, held)); // One was lost: ask again.
            }

            return;
        }

        snapshots.AppendReceived(sequence, chunk.Offset, chunk.Data.Span);
        _replica.Counters.SnapshotChunksReceived++;
        transfer.Peer = chunk.Sender;
        transfer.IdleTicks = 0;
        transfer.Retries = 0;
        held += chunk.Data.Length;
        if (held < transfer.Length)
        {
            Send(chunk.Sender, new SnapshotChunkRequest(_replica.Id, sequence, held));
            return;
        }

        _receiving = null;
        StoredSnapshot stored;
        try
        {
            stored = snapshots.CompleteReceived(sequence, transfer.Length); // Durable before anything rests on it.
        }
        catch (Exception exception) when (exception is InvalidDataException or InvalidOperationException)
        {
            // Not a valid snapshot of that sequence number, or no longer newer than what this replica keeps: dropped.
            _replica.Counters.SnapshotTransfersFailed++;
            return;
        }

        _replica.InstallSnapshot(stored);
    }

    private void Send(ReplicaId peer, PaxosMessage message)
    {
        _transport.Send(peer, message);
        _transport.Flush();
    }

    /// <summary>A snapshot being received: which, how long, from whom, and how long it has been idle.</summary>
    private sealed class Transfer(SequenceNumber sequence, long length, ReplicaId peer)
    {
        public SequenceNumber Sequence { get; } = sequence;

        public long Length { get; } = length;

        public ReplicaId Peer { get; set; } = peer;

        public int IdleTicks { get; set; }

        public int Retries { get; set; }
    }

    private void Send(IReadOnlyList<OutboundMessage> messages, bool flush = true)
    {
        if (messages.Count == 0)
        {
            return;
        }

        var self = _replica.Id.Value;
        for (var i = 0; i < messages.Count; i++)
        {
            var outbound = messages[i];
            if (!outbound.IsBroadcast)
            {
                _transport.Send(outbound.Destination, outbound.Message);
                continue;
            }

            for (var peer = 0; peer < _clusterSize; peer++)
            {
                if (peer != self)
                {
                    _transport.Send(new ReplicaId(peer), outbound.Message);
                }
            }
        }

        if (flush)
        {
            _transport.Flush();
        }
    }

    private sealed class NoObserver : IReplicaDriverObserver
    {
        public static readonly NoObserver Instance = new();
    }
}

/// <summary>
/// Writes a <see cref="ReplicaDriver"/>'s snapshots away from the driver's thread (a snapshot of a large state takes long
/// to write, and ordering must not wait for it) and hands back, on the driver's thread, which are durable.
/// </summary>
public interface ISnapshotWriter
{
    /// <summary>Whether a written snapshot (or a failure) waits for <see cref="TryTakeWritten"/>.</summary>
    bool HasWritten { get; }

    /// <summary>Starts writing a snapshot (<see cref="ISnapshotStorage.WriteSnapshot"/>), then disposes its capture.</summary>
    void Write(TakenSnapshot snapshot);

    /// <summary>Takes the sequence number of a snapshot that is durable now.</summary>
    /// <exception cref="IOException">Writing it failed.</exception>
    bool TryTakeWritten(out SequenceNumber sequence);
}

/// <summary>
/// Persists a <see cref="ReplicaDriver"/>'s batches away from the driver's thread — on a thread of its own, or, in a
/// simulation, some ticks later — and hands them back durable, in order.
/// </summary>
/// <remarks>Only the driver's thread calls <see cref="Enqueue"/> and <see cref="TakeDurable"/>.</remarks>
public interface IBatchWriter
{
    /// <summary>Batches handed over and not yet taken back.</summary>
    int InFlight { get; }

    /// <summary>Whether batches (or a failure) wait for <see cref="TakeDurable"/>.</summary>
    bool HasDurable { get; }

    /// <summary>Hands a batch over, to be persisted after every batch handed over before it.</summary>
    void Enqueue(OutputBatch batch);

    /// <summary>Moves the batches that became durable, oldest first, into <paramref name="into"/>.</summary>
    /// <exception cref="IOException">The writer failed and no durable batch is left to take.</exception>
    void TakeDurable(List<OutputBatch> into);
}

/// <summary>What a <see cref="ReplicaDriver"/>'s host hears from it, on the driver's thread. Every member has a
/// default that does nothing (or, for <see cref="MaySyncHere"/>, says no).</summary>
public interface IReplicaDriverObserver
{
    /// <summary>A batch was taken from the replica, before any of it was applied. The replica reuses the batch once
    /// it is acknowledged: read it now, do not keep it.</summary>
    void OnBatchTaken(OutputBatch batch)
    {
    }

    /// <summary>The batch's <see cref="OutputBatch.Replies"/> may be delivered to local clients now (before the
    /// batch is durable: each answers an update that executed on a durable majority already).</summary>
    void OnReplies(OutputBatch batch)
    {
    }

    /// <summary>The batch's <see cref="OutputBatch.ReadsReady"/> may be served now — the executor has executed through
    /// each one's read index — and its <see cref="OutputBatch.ReadsFailed"/> failed. Reads depend on nothing the batch
    /// persists.</summary>
    void OnReads(OutputBatch batch)
    {
    }

    /// <summary>The batch is durable, its messages have left, and the replica was told.</summary>
    /// <param name="batch">The batch; reused by the replica once this returns.</param>
    /// <param name="syncedHere">Whether it needed an fsync and got it on the driver's thread although there is a
    /// writer (<see cref="MaySyncHere"/>).</param>
    void OnAcknowledged(OutputBatch batch, bool syncedHere)
    {
    }

    /// <summary>Whether a batch that needs an fsync may be persisted on the driver's thread, when the writer holds
    /// nothing, instead of going through the writer (asked only when there is a writer). Saying yes saves the
    /// writer's wake-up but holds the driver's thread for the fsync.</summary>
    bool MaySyncHere(OutputBatch batch) => false;
}
