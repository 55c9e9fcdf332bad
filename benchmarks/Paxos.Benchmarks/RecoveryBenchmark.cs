using System.Diagnostics;
using Paxos.Messages;
using Paxos.Protocol;
using Paxos.Storage;
using static System.FormattableString;

namespace Paxos.Benchmarks;

/// <summary>
/// <c>--recovery [updates] [runs]</c>: how long a restart takes with a log of that many updates, since the log is
/// not garbage-collected yet and every restart reads all of it. Writes a follower's log as a 64-writer load leaves
/// it (one accepted Proposal of 64 updates of 64 bytes per batch, and the previous batch's 64 slots ordered), then
/// times, per run, reading it back (<see cref="FileReplicaStorage.LoadAsync"/>: decode and check every record) and
/// rebuilding a <see cref="PaxosReplica"/> from it (replaying every ordered update into an executor). The files are
/// in the page cache, as after a process restart; after a reboot the disk's read speed comes on top.
/// </summary>
internal static class RecoveryBenchmark
{
    private const int UpdatesPerProposal = 64;
    private const int PayloadBytes = 64;

    public static int Run(long updates, int runs)
    {
        var directory = Path.Combine(Path.GetTempPath(), "paxos-recovery-" + Guid.NewGuid().ToString("N"));
        try
        {
            var proposals = (updates + UpdatesPerProposal - 1) / UpdatesPerProposal;
            var (written, bytes) = WriteLog(directory, proposals);
            var total = proposals * UpdatesPerProposal;
            Console.WriteLine(Invariant($"Recovery of a follower's log: {total:N0} updates ({PayloadBytes}-byte payloads, {UpdatesPerProposal} per Proposal), {bytes / (1024.0 * 1024.0):N0} MiB of records ({(double)bytes / total:N0} bytes per update) in {Directory.EnumerateFiles(directory, "wal-*.log").Count()} segments, written in {written.TotalSeconds:N1} s without fsync; files in the page cache"));

            var loads = new List<double>();
            var rebuilds = new List<double>();
            for (var run = 1; run <= runs; run++)
            {
                var (load, rebuild, records) = Recover(directory, total);
                loads.Add(load.TotalSeconds);
                rebuilds.Add(rebuild.TotalSeconds);
                Console.WriteLine(Invariant($"  run {run}/{runs}: read {records:N0} records in {load.TotalMilliseconds:N0} ms, rebuilt the replica (every update executed again) in {rebuild.TotalMilliseconds:N0} ms"));
            }

            loads.Sort();
            rebuilds.Sort();
            var (medianLoad, medianRebuild) = (loads[loads.Count / 2], rebuilds[rebuilds.Count / 2]);
            Console.WriteLine(Invariant($"median of {runs}: read {medianLoad * 1000:N0} ms ({bytes / (1024.0 * 1024.0) / medianLoad:N0} MiB/s), rebuild {medianRebuild * 1000:N0} ms; {total / (medianLoad + medianRebuild):N0} updates recovered per second in all"));
            return 0;
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    private static (TimeSpan Elapsed, long Bytes) WriteLog(string directory, long proposals)
    {
        var started = Stopwatch.StartNew();
        using var storage = new FileReplicaStorage(new FileReplicaStorageOptions { DataDirectory = directory, SyncEnabled = false });
        storage.LoadAsync().AsTask().GetAwaiter().GetResult();
        var payload = new byte[PayloadBytes];
        ClientUpdate[]? previous = null;
        for (long p = 0; p <= proposals; p++)
        {
            var batch = new OutputBatch(p + 1) { InstalledView = p == 0 ? new ViewNumber(1) : null };
            if (previous is not null)
            {
                for (var i = 0; i < previous.Length; i++)
                {
                    batch.AddOrderedSlot(new OrderedSlot(new SequenceNumber(((p - 1) * UpdatesPerProposal) + i + 1), previous[i]));
                }
            }

            if (p < proposals)
            {
                var updates = new ClientUpdate[UpdatesPerProposal];
                for (var i = 0; i < updates.Length; i++)
                {
                    updates[i] = new ClientUpdate(new ClientId(i + 1), p + 1, payload, new ReplicaId(1), validate: false);
                }

                batch.AddAcceptedProposal(new Proposal(new ReplicaId(1), new ViewNumber(1), new SequenceNumber((p * UpdatesPerProposal) + 1), updates));
                previous = updates;
            }

            storage.PersistAsync(batch).AsTask().GetAwaiter().GetResult();
        }

        return (started.Elapsed, storage.Counters.BytesWritten);
    }

    private static (TimeSpan Load, TimeSpan Rebuild, long Records) Recover(string directory, long expected)
    {
        using var storage = new FileReplicaStorage(new FileReplicaStorageOptions { DataDirectory = directory, SyncEnabled = false });
        var started = Stopwatch.StartNew();
        var state = storage.LoadAsync().AsTask().GetAwaiter().GetResult();
        var load = started.Elapsed;

        started.Restart();
        var executor = new CountingExecutor();
        _ = new PaxosReplica(new ProtocolOptions { ReplicaId = 2, ClusterSize = 3 }, executor, state);
        var rebuild = started.Elapsed;
        if (executor.Executed != expected)
        {
            throw new InvalidOperationException(Invariant($"The rebuilt replica executed {executor.Executed:N0} updates, not {expected:N0}."));
        }

        return (load, rebuild, storage.Counters.LastRecoveryRecordsRead);
    }

    private sealed class CountingExecutor : IExecutor
    {
        public long Executed { get; private set; }

        public ReadOnlyMemory<byte> Execute(in OrderedUpdate update)
        {
            Executed++;
            return ReadOnlyMemory<byte>.Empty;
        }
    }
}
