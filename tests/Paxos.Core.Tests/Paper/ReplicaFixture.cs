using Paxos.Messages;
using Paxos.Protocol;

namespace Paxos.Tests.Paper;

/// <summary>
/// One <see cref="PaxosReplica"/> under test, driven the way a host drives it: every input is followed by
/// <see cref="PaxosReplica.TakeOutput"/> and, unless <see cref="AutoAcknowledge"/> is off, by
/// <see cref="PaxosReplica.AcknowledgePersisted"/>. Every non-empty batch is recorded, so a test can ask what
/// was persisted, sent, executed and answered since it last called <see cref="Clear"/>.
/// </summary>
internal sealed class ReplicaFixture
{
    private readonly List<OutputBatch> _batches = [];

    public ReplicaFixture(int id, int clusterSize = 3, Action<PaxosOptions>? configure = null, PersistentState? recovered = null)
    {
        Options = new PaxosOptions
        {
            ReplicaId = id,
            ClusterSize = clusterSize,

            // Long timers by default, so that a test sees only the timer it is about.
            ProgressTimeoutTicks = 1000,
            MaxProgressTimeoutTicks = 100_000,
            LeaderHeartbeatTicks = 400,
            ViewChangeRetransmitTicks = 1000,
            VcProofIntervalTicks = 1000,
            PrepareRetransmitTicks = 1000,
            ProposalRetransmitTicks = 1000,
            UpdateRetransmitTicks = 1000,
            AliveIntervalTicks = 1000,
            CatchUpDelayTicks = 3,
            CatchUpTimeoutTicks = 1000,
        };
        configure?.Invoke(Options);

        // Keep the heartbeat valid (below half the progress timeout) when a test shortens the progress timeout.
        Options.LeaderHeartbeatTicks = Math.Min(Options.LeaderHeartbeatTicks, Math.Max(1, (Options.ProgressTimeoutTicks / 2) - 1));
        Executor = new TestExecutor();
        Replica = new PaxosReplica(Options.ToProtocolOptions(), Executor, recovered);
        Flush();
    }

    public PaxosOptions Options { get; }

    public TestExecutor Executor { get; }

    public PaxosReplica Replica { get; }

    public ReplicaId Id => Replica.Id;

    public ReplicaStatus Status => Replica.Status;

    public ReplicaCounters Counters => Replica.Counters;

    /// <summary>Whether <see cref="Flush"/> acknowledges each batch as persisted (a host with a working disk).</summary>
    public bool AutoAcknowledge { get; set; } = true;

    /// <summary>The non-empty batches taken since the last <see cref="Clear"/>.</summary>
    public IReadOnlyList<OutputBatch> Batches => _batches;

    public OutputBatch? LastBatch => _batches.Count == 0 ? null : _batches[^1];

    public IEnumerable<OutboundMessage> Sent => _batches.SelectMany(b => b.ImmediateMessages.Concat(b.Messages));

    public IEnumerable<ViewNumber> InstalledViews => _batches.Where(b => b.InstalledView.HasValue).Select(b => b.InstalledView!.Value);

    public IEnumerable<Proposal> AcceptedProposals => _batches.SelectMany(b => b.AcceptedProposals);

    public IEnumerable<ClientUpdate> PendingUpdates => _batches.SelectMany(b => b.PendingUpdates);

    public IEnumerable<OrderedSlot> OrderedSlots => _batches.SelectMany(b => b.OrderedSlots);

    public IEnumerable<ClientReply> Replies => _batches.SelectMany(b => b.Replies);

    /// <summary>The messages of type <typeparamref name="T"/> sent since the last <see cref="Clear"/>, with their destinations.</summary>
    public List<(ReplicaId To, T Message)> SentOf<T>()
        where T : PaxosMessage =>
        Sent.Where(m => m.Message is T).Select(m => (m.Destination, (T)m.Message)).ToList();

    public List<T> MessagesOf<T>()
        where T : PaxosMessage =>
        Sent.Select(m => m.Message).OfType<T>().ToList();

    /// <summary>Forgets what was recorded so far.</summary>
    public ReplicaFixture Clear()
    {
        _batches.Clear();
        Executor.Executed.Clear();
        return this;
    }

    /// <summary>
    /// Takes the replica's output batch, records it, and acknowledges it when <see cref="AutoAcknowledge"/> is on. An
    /// acknowledgement can order and execute slots, whose records and replies fill a further batch: that one is taken (and
    /// acknowledged) too, until the replica has nothing left to do. Returns the first batch (an empty one when there was
    /// nothing to do).
    /// </summary>
    public OutputBatch Flush()
    {
        OutputBatch? first = null;
        for (var round = 0; round < 100; round++)
        {
            var batch = Replica.TakeOutput();
            if (batch.IsEmpty)
            {
                return first ?? batch;
            }

            first ??= batch;
            _batches.Add(batch);
            if (!AutoAcknowledge)
            {
                return first;
            }

            Replica.AcknowledgePersisted(batch.Number);
        }

        throw new InvalidOperationException("the replica kept producing batches");
    }

    /// <summary>Acknowledges every batch taken so far (for tests that switched <see cref="AutoAcknowledge"/> off), then
    /// takes what that produced.</summary>
    public void AcknowledgeAll()
    {
        if (_batches.Count > 0)
        {
            Replica.AcknowledgePersisted(_batches[^1].Number);
        }

        Flush();
    }

    /// <summary>Delivers one message and flushes; returns the resulting batch.</summary>
    public OutputBatch Deliver(PaxosMessage message)
    {
        Replica.Step(message);
        return Flush();
    }

    /// <summary>Delivers messages one by one, flushing after each.</summary>
    public void Deliver(params PaxosMessage[] messages)
    {
        foreach (var message in messages)
        {
            Deliver(message);
        }
    }

    /// <summary>Submits an update from a local client and flushes.</summary>
    public SubmitStatus Submit(ClientUpdate update)
    {
        var status = Replica.Submit(update);
        Flush();
        return status;
    }

    /// <summary>Advances <paramref name="ticks"/> ticks, flushing after each, as a host would.</summary>
    public void Tick(int ticks = 1)
    {
        for (var i = 0; i < ticks; i++)
        {
            Replica.Tick();
            Flush();
        }
    }

    /// <summary>Ticks until <paramref name="condition"/> holds; returns how many ticks that took, or −1 after <paramref name="limit"/>.</summary>
    public int TicksUntil(Func<bool> condition, int limit)
    {
        for (var i = 1; i <= limit; i++)
        {
            Tick();
            if (condition())
            {
                return i;
            }
        }

        return -1;
    }

    // ---- Builders for the states a test starts from ----

    /// <summary>Replica <paramref name="id"/> (not 1) of <paramref name="clusterSize"/> in REG_NONLEADER of view 1, installed by
    /// answering the leader's Prepare without having preinstalled (TR Fig. 7 B, G19). Records cleared.</summary>
    public static ReplicaFixture NonLeaderOfView1(int id = 0, int clusterSize = 3, Action<PaxosOptions>? configure = null)
    {
        var fixture = new ReplicaFixture(id, clusterSize, configure);
        fixture.Deliver(new Prepare(R(1), V(1), S(0)));
        fixture.Status.State.Should().Be(ReplicaState.RegularNonLeader);
        return fixture.Clear();
    }

    /// <summary>Replica 1 of <paramref name="clusterSize"/> as the prepared leader of view 1 (REG_LEADER): a majority voted for
    /// view 1, it sent its Prepare, and a majority (itself included) answered with empty data lists. Records cleared.</summary>
    public static ReplicaFixture LeaderOfView1(int clusterSize = 3, Action<PaxosOptions>? configure = null)
    {
        var fixture = new ReplicaFixture(1, clusterSize, configure);
        fixture.BecomeLeader(V(1));
        return fixture.Clear();
    }

    /// <summary>Makes this replica, in leader election for <paramref name="view"/> (which it leads), preinstall the view from
    /// peers' View_Changes and complete its Prepare phase with empty Prepare_OKs from peers.</summary>
    public void BecomeLeader(ViewNumber view, params DataListEntry[] reportedByFirstPeer)
    {
        Status.LastAttempted.Should().Be(view);
        var peers = Peers().Take(Quorum - 1).ToList();
        foreach (var peer in peers)
        {
            if (Status.LastInstalled != view)
            {
                Deliver(new ViewChange(peer, view));
            }
        }

        Status.LastInstalled.Should().Be(view, "a majority voted, so the leader preinstalled and prepared");
        for (var i = 0; i < peers.Count; i++)
        {
            Deliver(new PrepareOk(peers[i], view, 0, 1, i == 0 ? reportedByFirstPeer : []));
        }

        Status.State.Should().Be(ReplicaState.RegularLeader);
    }

    public int Quorum => (Options.ClusterSize / 2) + 1;

    /// <summary>The other replicas' ids.</summary>
    public IEnumerable<ReplicaId> Peers() =>
        Enumerable.Range(0, Options.ClusterSize).Where(i => i != Options.ReplicaId).Select(i => new ReplicaId(i));

    // ---- Short names for the protocol's numbers and updates ----

    public static ReplicaId R(int id) => new(id);

    public static ViewNumber V(long view) => new(view);

    public static SequenceNumber S(long sequence) => new(sequence);

    /// <summary>Update <c>c{client}#{timestamp}</c> with a payload of <paramref name="payloadBytes"/> bytes, submitted at
    /// <paramref name="origin"/> (none: as a client hands it to <see cref="PaxosReplica.Submit"/>).</summary>
    public static ClientUpdate U(long client, long timestamp, int payloadBytes = 1, int origin = -1)
    {
        var payload = new byte[payloadBytes];
        Array.Fill(payload, (byte)(client + timestamp));
        return new ClientUpdate(new ClientId(client), timestamp, payload, new ReplicaId(origin), validate: true);
    }

    public static Proposal Proposal(int leader, long view, long firstSequence, params ClientUpdate[] updates) =>
        new(R(leader), V(view), S(firstSequence), updates);

    public static Accept Accept(int sender, long view, long first, long? last = null) =>
        new(R(sender), V(view), S(first), S(last ?? first));

    public static GloballyOrderedUpdate Ordered(int sender, long firstSequence, params ClientUpdate[] updates) =>
        new(R(sender), S(firstSequence), updates);

    public static DataListEntry ProposalEntry(long sequence, long view, ClientUpdate update) =>
        new(S(sequence), V(view), false, update);

    public static DataListEntry OrderedEntry(long sequence, ClientUpdate update) =>
        new(S(sequence), ViewNumber.None, true, update);
}

/// <summary>An executor that records what it executed and replies with <c>"r" + sequence</c>; it can be told to fail.</summary>
internal sealed class TestExecutor : ISnapshotExecutor
{
    /// <summary>Snapshots restored into this executor, by sequence number of their last update.</summary>
    public List<long> Restored { get; } = [];

    /// <summary>Captures the history executed so far; its bytes are the executed updates' sequence numbers.</summary>
    public IExecutorSnapshot CaptureSnapshot() => new Capture([.. History.Select(u => u.Sequence.Value)]);

    /// <summary>Replaces the history with one of placeholders at the snapshot's sequence numbers.</summary>
    public void RestoreSnapshot(Stream snapshot)
    {
        using var reader = new BinaryReader(snapshot, System.Text.Encoding.UTF8, leaveOpen: true);
        var count = reader.ReadInt32();
        History.Clear();
        Executed.Clear();
        for (var i = 0; i < count; i++)
        {
            History.Add(new OrderedUpdate(new SequenceNumber(reader.ReadInt64()), new ClientId(0), 0, ReplicaId.None, ReadOnlyMemory<byte>.Empty));
        }

        Restored.Add(History.Count == 0 ? 0 : History[^1].Sequence.Value);
    }

    /// <summary>The bytes a snapshot of these sequence numbers holds.</summary>
    public static byte[] SnapshotBytes(IEnumerable<long> sequences)
    {
        using var bytes = new MemoryStream();
        new Capture([.. sequences]).WriteTo(bytes);
        return bytes.ToArray();
    }

    private sealed class Capture(long[] sequences) : IExecutorSnapshot
    {
        public void WriteTo(Stream destination)
        {
            using var writer = new BinaryWriter(destination, System.Text.Encoding.UTF8, leaveOpen: true);
            writer.Write(sequences.Length);
            foreach (var sequence in sequences)
            {
                writer.Write(sequence);
            }
        }

        public void Dispose()
        {
        }
    }

    public List<OrderedUpdate> Executed { get; } = [];

    /// <summary>Every update executed since the fixture was built, never cleared.</summary>
    public List<OrderedUpdate> History { get; } = [];

    /// <summary>When set, <see cref="Execute"/> throws for updates it matches.</summary>
    public Func<OrderedUpdate, bool>? FailWhen { get; set; }

    public IEnumerable<string> ExecutedNames => Executed.Select(u => $"c{u.ClientId.Value}#{u.Timestamp}@{u.Sequence.Value}");

    /// <summary>When set, <see cref="Execute"/> rejects updates it matches (<see cref="UpdateRejectedException"/>, error
    /// bytes <c>"no" + sequence</c>) without changing its state.</summary>
    public Func<OrderedUpdate, bool>? RejectWhen { get; set; }

    public ReadOnlyMemory<byte> Execute(in OrderedUpdate update)
    {
        if (FailWhen?.Invoke(update) == true)
        {
            throw new InvalidOperationException($"executor refused c{update.ClientId.Value}#{update.Timestamp}");
        }

        if (RejectWhen?.Invoke(update) == true)
        {
            throw new UpdateRejectedException(System.Text.Encoding.ASCII.GetBytes($"no{update.Sequence.Value}"), "rejected by the test");
        }

        Executed.Add(update);
        History.Add(update);
        return Reply(update.Sequence.Value);
    }

    public static byte[] Reply(long sequence) => System.Text.Encoding.ASCII.GetBytes($"r{sequence}");
}
