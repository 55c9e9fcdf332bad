using Paxos.Hosting;
using Paxos.Messages;
using Paxos.Protocol;
using Paxos.Storage;
using Paxos.Transport;
using Paxos.Tests.Paper;

namespace Paxos.Tests.Storage;

/// <summary>A fresh directory under the temp path, deleted with everything in it.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "paxos-wal-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Sub(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }
    }
}

/// <summary>A base for fixtures whose every test gets a fresh <see cref="TempDirectory"/> (<see cref="Temp"/>),
/// deleted after it.</summary>
public abstract class TempDirectoryFixture
{
    protected TempDirectory Temp { get; private set; } = null!;

    [SetUp]
    public void CreateTempDirectory() => Temp = new TempDirectory();

    [TearDown]
    public void DeleteTempDirectory() => Temp.Dispose();
}

/// <summary>Helpers shared by the storage tests.</summary>
internal static class StorageTestSupport
{
    public static FileReplicaStorageOptions Options(string directory, bool preallocate = false, bool sync = true, long segmentBytes = FileReplicaStorageOptions.MinSegmentBytes) => new()
    {
        DataDirectory = directory,
        PreallocateSegments = preallocate,
        SyncEnabled = sync,
        SegmentBytes = segmentBytes,
    };

    public static FileReplicaStorage Open(string directory, bool preallocate = false, bool sync = true, long segmentBytes = FileReplicaStorageOptions.MinSegmentBytes) =>
        new(Options(directory, preallocate, sync, segmentBytes));

    public static PersistentState Load(IReplicaStorage storage) => storage.LoadAsync().AsTask().GetAwaiter().GetResult();

    public static void Persist(IReplicaStorage storage, OutputBatch batch) => storage.PersistAsync(batch).AsTask().GetAwaiter().GetResult();

    /// <summary>One line per fact of the state, so two states compare with a readable diff.</summary>
    public static List<string> Describe(PersistentState state)
    {
        var lines = new List<string> { $"view {state.LastInstalled.Value}" };
        foreach (var proposal in state.AcceptedProposals)
        {
            lines.Add($"proposal from {proposal.Sender.Value} v={proposal.View.Value} first={proposal.FirstSequence.Value} [{string.Join(' ', proposal.Updates.Select(Describe))}]");
        }

        foreach (var slot in state.OrderedSlots)
        {
            lines.Add($"ordered {slot.Sequence.Value} {Describe(slot.Update)}");
        }

        foreach (var update in state.PendingUpdates)
        {
            lines.Add($"pending {Describe(update)}");
        }

        return lines;
    }

    public static string Describe(ClientUpdate update) =>
        update.IsNoOp ? "noop" : $"c{update.ClientId.Value}#{update.Timestamp}@{update.Origin.Value}:{Convert.ToHexString(update.Payload.Span)}";

    /// <summary>Copies a data directory as a crash would leave it for the next process: every file but the lock,
    /// which a live storage holds.</summary>
    public static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            if (System.IO.Path.GetFileName(file) != "lock")
            {
                System.IO.File.Copy(file, System.IO.Path.Combine(to, System.IO.Path.GetFileName(file)));
            }
        }
    }

    public static string Segment(string directory, long number) => System.IO.Path.Combine(directory, $"wal-{number:D8}.log");

    // ---- Batches built by hand, through the internal surface ----

    public static ClientUpdate U(long client, long timestamp, int payloadBytes = 4, int origin = 0)
    {
        var payload = new byte[payloadBytes];
        for (var i = 0; i < payload.Length; i++)
        {
            payload[i] = (byte)((client * 31) + timestamp + i);
        }

        return new ClientUpdate(new ClientId(client), timestamp, payload, new ReplicaId(origin), validate: true);
    }

    public static OutputBatch Batch(long number, ViewNumber? view = null, Proposal[]? proposals = null, ClientUpdate[]? pending = null, OrderedSlot[]? ordered = null)
    {
        var batch = new OutputBatch(number) { InstalledView = view };
        foreach (var proposal in proposals ?? [])
        {
            batch.AddAcceptedProposal(proposal);
        }

        foreach (var update in pending ?? [])
        {
            batch.AddPendingUpdate(update);
        }

        foreach (var slot in ordered ?? [])
        {
            batch.AddOrderedSlot(slot);
        }

        return batch;
    }

    public static OutputBatch PendingBatch(long number, long client, long timestamp, int payloadBytes = 4) =>
        Batch(number, pending: [U(client, timestamp, payloadBytes)]);

    public static OutputBatch OrderedBatch(long number, long sequence, long client, long timestamp) =>
        Batch(number, ordered: [new OrderedSlot(new SequenceNumber(sequence), U(client, timestamp))]);

    public static Proposal P(int leader, long view, long first, params ClientUpdate[] updates) =>
        new(new ReplicaId(leader), new ViewNumber(view), new SequenceNumber(first), updates);
}

/// <summary>
/// Three real <see cref="PaxosReplica"/>s in one thread, with a seeded network that reorders, drops and
/// sometimes isolates a replica (so views change). Each replica runs in the <see cref="ReplicaDriver"/> that
/// <see cref="PaxosNode"/> runs, and the driver persists every batch by handing it to <see cref="OnBatch"/>, before
/// its messages leave and it is acknowledged.
/// </summary>
internal sealed class StorageCluster
{
    private readonly List<(int To, PaxosMessage Message)> _inFlight = [];
    private readonly Random _random;
    private readonly long[] _timestamps = new long[8];
    private readonly ReplicaDriver[] _drivers = new ReplicaDriver[3];
    private int _isolated = -1;

    public StorageCluster(int seed, Action<int, OutputBatch> onBatch)
    {
        _random = new Random(seed);
        OnBatch = onBatch;
        for (var i = 0; i < Replicas.Length; i++)
        {
            Executors[i] = new TestExecutor();
            Replicas[i] = new PaxosReplica(OptionsFor(i).ToProtocolOptions(), Executors[i], logger: null, seed: (ulong)(seed + i));
            _drivers[i] = new ReplicaDriver(Replicas[i], new CallbackStorage(this, i), new InFlightTransport(this), Replicas.Length);
            Pump(i);
        }
    }

    public PaxosReplica[] Replicas { get; } = new PaxosReplica[3];

    public TestExecutor[] Executors { get; } = new TestExecutor[3];

    public Action<int, OutputBatch> OnBatch { get; }

    public static PaxosOptions OptionsFor(int id) => new()
    {
        ReplicaId = id,
        ClusterSize = 3,
        ProgressTimeoutTicks = 20,
        MaxProgressTimeoutTicks = 160,
        LeaderHeartbeatTicks = 5,
        ViewChangeRetransmitTicks = 3,
        VcProofIntervalTicks = 5,
        PrepareRetransmitTicks = 3,
        ProposalRetransmitTicks = 3,
        UpdateRetransmitTicks = 6,
        AliveIntervalTicks = 5,
        CatchUpDelayTicks = 1,
        CatchUpTimeoutTicks = 10,
        MaxMessageBytes = 16_000,
        MaxUpdateBytes = 8_000,
    };

    /// <summary>Runs <paramref name="steps"/> random steps: submissions with payloads up to
    /// <paramref name="maxPayloadBytes"/>, deliveries in random order, losses, ticks, isolations.</summary>
    public void Run(int steps, int maxPayloadBytes)
    {
        for (var step = 0; step < steps; step++)
        {
            var roll = _random.Next(100);
            if (roll < 15)
            {
                Submit(maxPayloadBytes);
            }
            else if (roll < 75 && _inFlight.Count > 0)
            {
                Deliver();
            }
            else if (roll < 98)
            {
                Tick(_random.Next(Replicas.Length));
            }
            else
            {
                // Isolate a replica now and then (or heal), so that views change and batches install views.
                _isolated = _isolated >= 0 ? -1 : _random.Next(Replicas.Length);
            }
        }
    }

    /// <summary>Heals the network and delivers what is in flight, ticking now and then, for at most <paramref name="maxSteps"/> steps.</summary>
    public void Settle(int maxSteps = 20_000)
    {
        _isolated = -1;
        for (var step = 0; step < maxSteps && _inFlight.Count > 0; step++)
        {
            Deliver();
            if (step % 4 == 0)
            {
                Tick(step % Replicas.Length);
            }
        }
    }

    private void Submit(int maxPayloadBytes)
    {
        var client = _random.Next(1, _timestamps.Length);
        var payload = new byte[_random.Next(0, maxPayloadBytes + 1)];
        _random.NextBytes(payload);
        var update = new ClientUpdate(new ClientId(client), ++_timestamps[client], payload);
        var at = _random.Next(Replicas.Length);
        _ = _drivers[at].Submit(update);
        Pump(at);
    }

    private void Deliver()
    {
        var index = _random.Next(_inFlight.Count);
        var (to, message) = _inFlight[index];
        _inFlight.RemoveAt(index);
        if (_random.Next(100) < 5 || to == _isolated || message.Sender.Value == _isolated)
        {
            return;
        }

        _drivers[to].Step(message);
        Pump(to);
    }

    private void Tick(int replica)
    {
        _drivers[replica].Tick();
        Pump(replica);
    }

    private void Pump(int id) => _drivers[id].Drain();

    /// <summary>Persists a replica's batches by handing them to the cluster's <see cref="OnBatch"/>.</summary>
    private sealed class CallbackStorage(StorageCluster cluster, int id) : IReplicaStorage
    {
        public ValueTask<PersistentState> LoadAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(PersistentState.Empty);

        public ValueTask PersistAsync(OutputBatch batch, CancellationToken cancellationToken = default)
        {
            cluster.OnBatch(id, batch);
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Puts every message in flight, where the run delivers it in random order (or loses it).</summary>
    private sealed class InFlightTransport(StorageCluster cluster) : ITransport
    {
        public ValueTask StartAsync(ITransportReceiver receiver, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

        public void Send(ReplicaId destination, PaxosMessage message) => cluster._inFlight.Add((destination.Value, message));

        public void Flush()
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
