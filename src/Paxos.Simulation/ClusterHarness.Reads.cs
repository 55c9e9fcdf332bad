using System.Buffers.Binary;
using Paxos.Protocol;

namespace Paxos.Simulation;

// Linearizable reads in the simulation: a client asks a replica for a read, the replica's driver says when it may be
// served, and the harness runs it against the executor at once (as PaxosNode does) and has the checker judge the answer.
public sealed partial class ClusterHarness
{
    /// <summary>The last read id given out; ids are unique over every incarnation.</summary>
    private long _lastReadId;

    /// <summary>Reads not yet served or failed, by id: the replica asked.</summary>
    private readonly Dictionary<long, ReplicaId> _pendingReads = [];

    /// <summary>Reads handed to replicas, served, and failed so far.</summary>
    public (long Requested, long Served, long Failed) ReadCounts { get; private set; }

    /// <summary>A client asks replica <paramref name="to"/> for a linearizable read; false if the replica is down. The read
    /// must reflect every update whose acknowledgement reached its client before now (<see cref="SafetyChecker.OnReadIssued"/>).</summary>
    public bool RequestRead(ReplicaId to)
    {
        var replica = _replicas[to.Value];
        if (replica.Driver is not { } driver)
        {
            return false;
        }

        var id = ++_lastReadId;
        _pendingReads[id] = to;
        Checker.OnReadIssued(id);
        ReadCounts = ReadCounts with { Requested = ReadCounts.Requested + 1 };
        driver.RequestRead(new ReadRequestId(id));
        Pump(replica);
        return true;
    }

    /// <summary>Serves the batch's ready reads against the replica's executor, now (before it executes anything more).</summary>
    private void OnReads(SimulatedReplica replica, OutputBatch batch)
    {
        foreach (var read in batch.ReadsReady)
        {
            if (!_pendingReads.Remove(read.Value, out var at) || at != replica.Id)
            {
                throw new SimulationFailureException($"replica {replica.Id} served read r{read.Value}, which it was never asked for");
            }

            // The executor answers with the sequence number of the last update it executed: the state the read saw.
            var answer = ((IReadExecutor)replica.Executor!).Read(default);
            var through = BinaryPrimitives.ReadInt64LittleEndian(answer.Span);
            ReadCounts = ReadCounts with { Served = ReadCounts.Served + 1 };
            Checker.OnReadServed(replica.Id, read.Value, through);
        }

        foreach (var failed in batch.ReadsFailed)
        {
            _pendingReads.Remove(failed.Id.Value);
            ReadCounts = ReadCounts with { Failed = ReadCounts.Failed + 1 };
        }
    }

    /// <summary>A crash forgets the replica's pending reads: their clients never hear back.</summary>
    private void ForgetReads(ReplicaId id)
    {
        foreach (var read in _pendingReads.Where(p => p.Value == id).Select(p => p.Key).ToList())
        {
            _pendingReads.Remove(read);
        }
    }
}
