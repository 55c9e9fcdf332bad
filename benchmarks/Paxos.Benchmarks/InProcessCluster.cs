using System.Diagnostics;
using Paxos.Messages;
using Paxos.Protocol;

namespace Paxos.Benchmarks;

/// <summary>
/// A 3-replica cluster in one thread with no network delay, driven the way <see cref="PaxosNode"/> drives a
/// replica: each replica drains everything waiting in its inbox (peer messages and client submissions),
/// then takes one output batch (group commit), which is acknowledged at once — storage discards, so the
/// durability contract holds trivially — and whose messages land in the peers' inboxes. It measures the
/// protocol's own cost per ordered update: the ceiling that the network and the disk then lower.
/// </summary>
internal sealed class InProcessCluster
{
    private readonly PaxosReplica[] _replicas;
    private readonly Queue<PaxosMessage>[] _inboxes;
    private readonly bool[] _submitted;
    private readonly long[] _clientTimestamps;
    private readonly ReadOnlyMemory<byte> _payload;
    private readonly int _entryReplica;
    private long _replies;
    private long _target;

    public InProcessCluster(int clusterSize, int clients, int payloadBytes, int entryReplica)
    {
        _replicas = new PaxosReplica[clusterSize];
        _inboxes = new Queue<PaxosMessage>[clusterSize];
        _submitted = new bool[clusterSize];
        for (var i = 0; i < clusterSize; i++)
        {
            var options = new ProtocolOptions { ReplicaId = i, ClusterSize = clusterSize, MaxPendingUpdates = Math.Max(4096, clients) };
            _replicas[i] = new PaxosReplica(options, new CountingExecutor(), seed: (ulong)i);
            _inboxes[i] = new Queue<PaxosMessage>();
        }

        _clientTimestamps = new long[clients];
        _payload = new byte[payloadBytes];
        _entryReplica = entryReplica;
    }

    public long Replies => _replies;

    /// <summary>Elects a leader: rounds of ticks and deliveries until replica 1 leads view 1.</summary>
    public void Elect()
    {
        for (var round = 0; round < 1000 && _replicas[1].Status.State != ReplicaState.RegularLeader; round++)
        {
            TickAll();
            Drain();
        }

        if (_replicas[1].Status.State != ReplicaState.RegularLeader)
        {
            throw new InvalidOperationException("No leader was elected.");
        }
    }

    /// <summary>Runs until <paramref name="updates"/> more replies; every client keeps one update outstanding.</summary>
    public void Run(long updates)
    {
        _target = _replies + updates;
        for (var c = 0; c < _clientTimestamps.Length; c++)
        {
            Submit(c);
        }

        for (var rounds = 0; _replies < _target; rounds++)
        {
            Drain();

            // Quiet with updates outstanding means they wait on a timer (say, a forward the full queue
            // refused): let time pass.
            TickAll();
            if (rounds > 1_000_000)
            {
                throw new InvalidOperationException("The cluster stalled.");
            }
        }

        Drain();
    }

    private void TickAll()
    {
        foreach (var replica in _replicas)
        {
            replica.Tick();
            Pump(replica);
        }
    }

    private void Submit(int client)
    {
        var timestamp = ++_clientTimestamps[client];
        _replicas[_entryReplica].Submit(new ClientUpdate(new ClientId(client + 1), timestamp, _payload));
        _submitted[_entryReplica] = true;
    }

    private void Drain()
    {
        bool busy;
        do
        {
            busy = false;
            for (var i = 0; i < _replicas.Length; i++)
            {
                var inbox = _inboxes[i];
                if (inbox.Count == 0 && !_submitted[i])
                {
                    continue;
                }

                busy = true;
                _submitted[i] = false;
                while (inbox.TryDequeue(out var message))
                {
                    _replicas[i].Step(message);
                }

                Pump(_replicas[i]);
            }
        }
        while (busy);
    }

    private void Pump(PaxosReplica replica)
    {
        while (true)
        {
            var batch = replica.TakeOutput();
            if (batch.IsEmpty)
            {
                return;
            }

            Route(replica, batch.ImmediateMessages);
            replica.AcknowledgePersisted(batch.Number);
            Route(replica, batch.Messages);
            var replies = batch.Replies;
            for (var i = 0; i < replies.Count; i++)
            {
                // A client submits its next update once it has the reply, until the run has enough.
                if (++_replies <= _target - _clientTimestamps.Length)
                {
                    Submit((int)replies[i].ClientId.Value - 1);
                }
            }

            replica.ReleaseOutput(batch);
        }
    }

    private void Route(PaxosReplica replica, IReadOnlyList<OutboundMessage> messages)
    {
        for (var i = 0; i < messages.Count; i++)
        {
            var outbound = messages[i];
            if (!outbound.IsBroadcast)
            {
                _inboxes[outbound.Destination.Value].Enqueue(outbound.Message);
                continue;
            }

            for (var peer = 0; peer < _replicas.Length; peer++)
            {
                if (peer != replica.Id.Value)
                {
                    _inboxes[peer].Enqueue(outbound.Message);
                }
            }
        }
    }

    /// <summary>Measures one run: ordered updates per second and bytes allocated per update.</summary>
    public static (double UpdatesPerSecond, double BytesPerUpdate) Measure(int clients, int payloadBytes, long updates, int entryReplica)
    {
        var cluster = new InProcessCluster(3, clients, payloadBytes, entryReplica);
        cluster.Elect();
        cluster.Run(updates / 10); // Warm-up: JIT tiers, collection growth.
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var watch = Stopwatch.StartNew();
        cluster.Run(updates);
        watch.Stop();
        var bytes = GC.GetAllocatedBytesForCurrentThread() - allocated;
        return (updates / watch.Elapsed.TotalSeconds, (double)bytes / updates);
    }

    private sealed class CountingExecutor : IExecutor
    {
        private static readonly ReadOnlyMemory<byte> Ok = new byte[] { 1 };

        public ReadOnlyMemory<byte> Execute(in OrderedUpdate update) => Ok;
    }
}
