using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Paxos.Sample.Processes;
using Paxos.Sample.Protocol;
using static System.FormattableString;

namespace Paxos.Benchmarks;

/// <summary>
/// The soak (<c>--soak</c>): one cluster of replica processes of the sample host on 127.0.0.1, loaded for a long time
/// by writers inside the leader's process (the UDP load generator's Load request, issued again and again in chunks,
/// and moved to the new leader when the process running it dies), while this process samples, every interval, each
/// replica's resident memory, its data directory's size and the cluster's executed updates, and runs the scripted
/// restarts and down windows. It writes <c>soak.csv</c> as it goes and <c>soak.svg</c> and <c>summary.txt</c> at the
/// end, under the output directory.
/// </summary>
internal static class SoakBenchmark
{
    public static async Task<int> RunAsync(SoakOptions options, CancellationToken cancellationToken)
    {
        var command = UdpLoadBenchmark.Locate(options.Replica.HostDll);
        Directory.CreateDirectory(options.OutputDirectory);
        var runDirectory = options.Replica.DataRoot is { } root ? Path.Combine(root, $"paxos-soak-{Guid.NewGuid().ToString("N")[..12]}") : null;
        Console.WriteLine(Invariant($"Soak: {options.Replica.Replicas} replica processes ({command}) on 127.0.0.1, {Environment.ProcessorCount} cores; {options.Writers} writers in the leader's process, {options.Replica.PayloadBytes}-byte updates, {options.Seconds} s, a sample every {options.IntervalMillis} ms"));
        Console.WriteLine(runDirectory is null
            ? "  storage in memory (no fsync); a restarted replica comes back empty and rebuilds from its peers (--rebuild)"
            : $"  durable: a write-ahead log per replica under {runDirectory}{(options.KeepData ? " (kept)" : " (deleted at the end)")}, fsync before every acknowledgement");
        Console.WriteLine(Invariant($"  guards: stop early when a replica's RSS passes {options.MaxRssMiB:N0} MiB") + (runDirectory is null ? string.Empty : Invariant($" or its data directory {options.MaxDiskMiB:N0} MiB")));
        Console.WriteLine($"  events: {(options.Events.Count == 0 ? "none" : string.Join(", ", options.Events))}");
        Console.WriteLine($"  output: {options.OutputDirectory}");
        UdpLoadBenchmark.WarnIfDebug(command);

        var environment = new Dictionary<string, string> { ["DOTNET_gcServer"] = "0" };
        var replicas = await ClusterLauncher.StartAsync(command, options.Replica.Replicas, r => options.Replica.ReplicaArguments(r, runDirectory), UdpLoadBenchmark.ShowTrouble, environment, cancellationToken);
        var run = new SoakRun(options, replicas, runDirectory);
        try
        {
            return await run.ExecuteAsync(cancellationToken);
        }
        finally
        {
            await run.DisposeAsync();
            if (runDirectory is not null && !options.KeepData)
            {
                try
                {
                    Directory.Delete(runDirectory, recursive: true);
                }
                catch (IOException exception)
                {
                    Console.WriteLine($"  (could not delete {runDirectory}: {exception.Message})");
                }
            }
        }
    }
}

/// <summary>One restart: a scripted restart, or the end of a down window. Times are seconds since the load started.</summary>
/// <param name="ReadySeconds">From the new process's start until it printed its ready line: its log replayed (durable),
/// its sockets bound, its client port serving.</param>
/// <param name="CaughtUpSeconds">From the new process's start until the first status poll (every 20 ms) at which it
/// was in a regular state (leader or non-leader, not electing, not rebuilding) and had executed at least as far as
/// every other replica had at the poll before.</param>
internal sealed record SoakRestart(SoakEvent Event, int Replica, double KilledAt, double StartedAt, double? ReadySeconds, double? CaughtUpSeconds, string? Failure);

/// <summary>One load chunk, as the process that ran the writers measured it.</summary>
internal sealed record SoakChunk(double EndedAt, int Replica, LoadResult Result);

internal sealed class SoakRun : IAsyncDisposable
{
    private static readonly TimeSpan LeaderPoll = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan CatchUpPoll = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan CatchUpLimit = TimeSpan.FromSeconds(300);

    private readonly SoakOptions _options;
    private readonly ReplicaProcess[] _replicas;
    private readonly string? _runDirectory;
    private readonly Stopwatch _clock = new();
    private readonly ConcurrentQueue<string> _events = new();
    private readonly ConcurrentQueue<SoakChunk> _chunks = new();
    private readonly List<SoakChunk> _allChunks = [];
    private readonly ConcurrentBag<SoakRestart> _restarts = [];
    private readonly List<SoakMarker> _markers = [];
    private readonly List<SoakSample> _samples = [];
    private readonly StatusProbes _sampling;
    private volatile int _leader = -1;

    public SoakRun(SoakOptions options, ReplicaProcess[] replicas, string? runDirectory)
    {
        _options = options;
        _replicas = replicas;
        _runDirectory = runDirectory;
        _sampling = new StatusProbes(this);
    }

    public int Count => _replicas.Length;

    public double Elapsed => _clock.Elapsed.TotalSeconds;

    public ReplicaProcess Replica(int id) => Volatile.Read(ref _replicas[id]);

    public async Task<int> ExecuteAsync(CancellationToken cancellationToken)
    {
        await using (var probes = new StatusProbes(this))
        {
            await FindLeaderAsync(probes, TimeSpan.FromSeconds(30), cancellationToken);
        }

        var csvPath = Path.Combine(_options.OutputDirectory, "soak.csv");
        var csv = new StreamWriter(csvPath) { NewLine = "\n" };
        await using (csv)
        {
            await csv.WriteLineAsync(SoakCsv.Header(Count));
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _clock.Start();
            var load = Task.Run(() => DriveLoadAsync(stop.Token), CancellationToken.None);
            var script = Task.Run(() => RunEventsAsync(stop.Token), CancellationToken.None);
            string? stoppedEarly = null;
            var interrupted = false;
            try
            {
                stoppedEarly = await SampleUntilDoneAsync(csv, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                interrupted = true;
                stoppedEarly = Invariant($"interrupted (Ctrl+C or SIGTERM) at {Elapsed:0.0} s");
            }
            finally
            {
                await stop.CancelAsync();
                await Quietly(load);
                await Quietly(script);
                _clock.Stop();
            }

            while (_chunks.TryDequeue(out var ended))
            {
                _allChunks.Add(ended);
            }

            await csv.FlushAsync(CancellationToken.None);
            Finish(stoppedEarly);
            return interrupted ? 130 : 0;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _sampling.DisposeAsync();
        ClusterLauncher.DisposeAll(_replicas);
    }

    /// <summary>Samples every interval until the duration is over or a guard trips; returns why it stopped early, or null.</summary>
    private async Task<string?> SampleUntilDoneAsync(StreamWriter csv, CancellationToken cancellationToken)
    {
        var interval = TimeSpan.FromMilliseconds(_options.IntervalMillis);
        var progressEvery = Math.Max(1, (int)Math.Round(10_000.0 / _options.IntervalMillis));
        var previous = (Elapsed: 0.0, Executed: 0L);
        var last = (int)Math.Ceiling(_options.Seconds * 1000.0 / _options.IntervalMillis);
        for (var n = 0; ; n++)
        {
            var due = interval * n;
            if (due > _clock.Elapsed)
            {
                await Task.Delay(due - _clock.Elapsed, cancellationToken);
            }

            var sample = await TakeSampleAsync(previous, n == 0, cancellationToken);
            previous = (sample.ElapsedSeconds, sample.ClusterExecuted);
            _samples.Add(sample);
            await csv.WriteLineAsync(SoakCsv.Row(sample));
            await csv.FlushAsync(cancellationToken);
            if (n % progressEvery == 0 || sample.Events.Count > 0)
            {
                Console.WriteLine(Progress(sample));
            }

            if (Guard(sample) is { } guard)
            {
                Console.WriteLine($"  STOPPED EARLY: {guard}");
                return guard;
            }

            if (n >= last)
            {
                return null;
            }
        }
    }

    private async Task<SoakSample> TakeSampleAsync((double Elapsed, long Executed) previous, bool first, CancellationToken cancellationToken)
    {
        var elapsed = Elapsed;
        var timeout = TimeSpan.FromMilliseconds(Math.Clamp(_options.IntervalMillis * 0.8, 200, 2000));
        var statuses = await _sampling.ReadAllAsync(timeout, cancellationToken);
        var executed = Math.Max(previous.Executed, statuses.OfType<ReplicaStatusInfo>().Select(s => s.LastExecutedSequence).DefaultIfEmpty(0).Max());
        var leader = Array.FindIndex(statuses, s => s?.IsLeader == true);
        if (leader >= 0)
        {
            _leader = leader;
        }

        var replicas = new SoakReplicaSample[Count];
        for (var i = 0; i < Count; i++)
        {
            var process = Replica(i);
            var up = !process.HasExited;
            replicas[i] = new SoakReplicaSample(
                up,
                up ? ResidentMiB(process.ProcessId) : null,
                _runDirectory is null ? null : DirectoryMiB(Path.Combine(_runDirectory, Invariant($"r{i}"))),
                statuses[i] is { } status ? executed - status.LastExecutedSequence : null);
        }

        SoakChunk? chunk = null;
        while (_chunks.TryDequeue(out var ended))
        {
            _allChunks.Add(ended);
            chunk = ended;
        }

        var events = new List<string>();
        while (_events.TryDequeue(out var e))
        {
            events.Add(e);
        }

        var seconds = elapsed - previous.Elapsed;
        return new SoakSample(
            elapsed,
            first || seconds <= 0 ? null : (executed - previous.Executed) / seconds,
            executed,
            leader,
            chunk?.Result.P50Nanos / 1e3,
            chunk?.Result.P99Nanos / 1e3,
            replicas,
            events);
    }

    private string? Guard(SoakSample sample)
    {
        for (var i = 0; i < sample.Replicas.Count; i++)
        {
            if (sample.Replicas[i].RssMiB > _options.MaxRssMiB)
            {
                return Invariant($"r{i}'s resident memory, {sample.Replicas[i].RssMiB:N0} MiB, passed the guard of {_options.MaxRssMiB:N0} MiB (--max-rss-mib) at {sample.ElapsedSeconds:0.0} s");
            }

            if (sample.Replicas[i].DiskMiB > _options.MaxDiskMiB)
            {
                return Invariant($"r{i}'s data directory, {sample.Replicas[i].DiskMiB:N0} MiB, passed the guard of {_options.MaxDiskMiB:N0} MiB (--max-disk-mib) at {sample.ElapsedSeconds:0.0} s");
            }
        }

        return null;
    }

    /// <summary>The writers: Load requests of a chunk each to the process that runs them, until the duration is over.
    /// When that process dies (or refuses), the next chunk goes to whichever replica is the leader then.</summary>
    private async Task DriveLoadAsync(CancellationToken cancellationToken)
    {
        await using var probes = new StatusProbes(this);
        ReplicaClient? client = null;
        var loader = -1;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var remaining = (int)((_options.Seconds - Elapsed) * 1000);
                if (remaining < 100)
                {
                    return;
                }

                if (client is null)
                {
                    var leader = await FindLeaderAsync(probes, TimeSpan.FromSeconds(_options.Seconds), cancellationToken);
                    client = await ReplicaClient.ConnectAsync(Replica(leader).ClientEndpoint!, cancellationToken);
                    if (leader != loader)
                    {
                        Note(Invariant($"writers run on r{leader}"));
                        loader = leader;
                    }
                }

                var request = new LoadRequest(_options.Writers, Math.Min(_options.ChunkSeconds * 1000, remaining), _options.Replica.PayloadBytes, 0);
                try
                {
                    var result = await client.LoadAsync(request, cancellationToken);
                    _chunks.Enqueue(new SoakChunk(Elapsed, loader, result));
                    if (result.Failures > 0)
                    {
                        Note(Invariant($"{result.Failures} submissions failed in the chunk on r{loader}"));
                    }
                }
                catch (Exception exception) when (exception is IOException or SocketException or TimeoutException)
                {
                    Note(Invariant($"the chunk on r{loader} ended: {exception.Message}"));
                    await client.DisposeAsync();
                    client = null;
                    await Task.Delay(LeaderPoll, cancellationToken);
                }
            }
        }
        finally
        {
            if (client is not null)
            {
                await client.DisposeAsync();
            }
        }
    }

    /// <summary>Runs the scripted events at their times: a restart kills the replica and starts it again at once; a
    /// down window kills it at its start and starts it at its end. Each start is measured (<see cref="SoakRestart"/>).</summary>
    private async Task RunEventsAsync(CancellationToken cancellationToken)
    {
        var actions = _options.Events
            .SelectMany(e => e.IsDown ? new[] { (At: e.At, Event: e, Kill: true), (At: e.Until, Event: e, Kill: false) } : [(At: e.At, Event: e, Kill: true)])
            .OrderBy(a => a.At)
            .ToList();
        var resolved = new Dictionary<SoakEvent, (int Replica, double KilledAt)>();
        var catchUps = new List<Task>();
        foreach (var (at, e, kill) in actions)
        {
            var wait = TimeSpan.FromSeconds(at) - _clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }

            if (kill)
            {
                var replica = e.Replica ?? (_leader >= 0 ? _leader : 0);
                var killedAt = Elapsed;
                var process = Replica(replica);
                Note(Invariant($"r{replica} killed (SIGKILL){(e.Replica is null ? " as the leader" : string.Empty)}"));
                process.Kill();
                await process.WaitForExitAsync(TimeSpan.FromSeconds(5));
                resolved[e] = (replica, killedAt);
                lock (_markers)
                {
                    _markers.Add(e.IsDown ? new SoakMarker(e.At, e.Until, Invariant($"r{replica} down")) : new SoakMarker(killedAt, killedAt, Invariant($"r{replica} restart")));
                }

                if (e.IsDown)
                {
                    continue;
                }
            }

            var (id, killed) = resolved[e];
            catchUps.Add(await StartAgainAsync(e, id, killed, cancellationToken));
        }

        await Task.WhenAll(catchUps);
    }

    /// <summary>Starts a killed replica again and waits until it is ready; returns the task that waits until it has
    /// caught up (and records the restart).</summary>
    private async Task<Task> StartAgainAsync(SoakEvent e, int replica, double killedAt, CancellationToken cancellationToken)
    {
        var exited = Replica(replica);
        var startedAt = Elapsed;
        var clock = Stopwatch.StartNew();
        ReplicaProcess fresh;
        try
        {
            fresh = await ClusterLauncher.RelaunchAsync(exited, _runDirectory is null ? ["--rebuild"] : null, cancellationToken);
        }
        catch (InvalidOperationException exception)
        {
            Note($"r{replica} did not start again: {exception.Message.Split('\n')[0]}");
            _restarts.Add(new SoakRestart(e, replica, killedAt, startedAt, null, null, exception.Message));
            return Task.CompletedTask;
        }

        var ready = clock.Elapsed.TotalSeconds;
        Volatile.Write(ref _replicas[replica], fresh);
        exited.Dispose();
        Note(Invariant($"r{replica} started again (pid {fresh.ProcessId}), ready after {ready:0.000} s"));
        return Task.Run(() => WaitCaughtUpAsync(e, replica, killedAt, startedAt, ready, clock, cancellationToken), CancellationToken.None);
    }

    private async Task WaitCaughtUpAsync(SoakEvent e, int replica, double killedAt, double startedAt, double ready, Stopwatch clock, CancellationToken cancellationToken)
    {
        await using var probes = new StatusProbes(this);
        long? othersBefore = null;
        try
        {
            while (clock.Elapsed < CatchUpLimit)
            {
                var statuses = await probes.ReadAllAsync(TimeSpan.FromSeconds(1), cancellationToken);
                var seconds = clock.Elapsed.TotalSeconds;
                if (statuses[replica] is { } mine && othersBefore is { } target
                    && mine.State != ReplicaState.LeaderElection && !mine.IsRebuilding && !mine.IsFaulted && mine.LastExecutedSequence >= target)
                {
                    Note(Invariant($"r{replica} caught up {seconds:0.000} s after its start (executed {mine.LastExecutedSequence:N0})"));
                    _restarts.Add(new SoakRestart(e, replica, killedAt, startedAt, ready, seconds, null));
                    return;
                }

                var others = statuses.Where((s, i) => i != replica && s is not null).Select(s => s!.LastExecutedSequence).ToList();
                othersBefore = others.Count > 0 ? others.Max() : othersBefore;
                await Task.Delay(CatchUpPoll, cancellationToken);
            }

            Note(Invariant($"r{replica} had not caught up {CatchUpLimit.TotalSeconds:0} s after its start"));
            _restarts.Add(new SoakRestart(e, replica, killedAt, startedAt, ready, null, Invariant($"not caught up within {CatchUpLimit.TotalSeconds:0} s")));
        }
        catch (OperationCanceledException)
        {
            _restarts.Add(new SoakRestart(e, replica, killedAt, startedAt, ready, null, "not caught up when the run ended"));
        }
    }

    /// <summary>The replica that says it is the prepared leader, once every replica that answers agrees on the view.</summary>
    private async Task<int> FindLeaderAsync(StatusProbes probes, TimeSpan limit, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            var statuses = await probes.ReadAllAsync(TimeSpan.FromSeconds(2), cancellationToken);
            var answered = statuses.OfType<ReplicaStatusInfo>().ToList();
            if (answered.Count > Count / 2 && answered.All(s => s.LastInstalled == answered[0].LastInstalled)
                && Array.FindIndex(statuses, s => s?.IsLeader == true) is var leader and >= 0)
            {
                _leader = leader;
                return leader;
            }

            await Task.Delay(LeaderPoll, cancellationToken);
        }

        throw new InvalidOperationException(Invariant($"No leader within {limit.TotalSeconds:0} s."));
    }

    private void Note(string text)
    {
        var line = Invariant($"{Elapsed:0.000} s {text}");
        _events.Enqueue(line);
        Console.WriteLine($"  [{line}]");
    }

    private void Finish(string? stoppedEarly)
    {
        var restarts = _restarts.OrderBy(r => r.StartedAt).ToList();
        List<SoakMarker> markers;
        lock (_markers)
        {
            markers = [.. _markers];
        }

        var mode = _runDirectory is null ? "in memory" : "durable";
        var title = Invariant($"Paxos soak: {Count} replicas, {_options.Writers} writers, {mode}, {(_samples.Count > 0 ? _samples[^1].ElapsedSeconds : 0):0} s");
        var subtitle = Invariant($"{DateTime.Now:yyyy-MM-dd HH:mm}, {Environment.ProcessorCount} cores, {_options.Replica.PayloadBytes}-byte updates, sample every {_options.IntervalMillis} ms")
            + (_options.Replica.LeaderSendsAccept ? ", LeaderSendsAccept" : string.Empty)
            + (_options.Replica.InlineCompletions ? ", inline completions" : string.Empty)
            + (stoppedEarly is null ? string.Empty : $"; stopped early: {stoppedEarly}");
        File.WriteAllText(Path.Combine(_options.OutputDirectory, "soak.svg"), SoakSvg.Render(_samples, Count, markers, title, subtitle));
        var summary = SoakSummary.Describe(_samples, _allChunks, restarts, _options, stoppedEarly);
        File.WriteAllText(Path.Combine(_options.OutputDirectory, "summary.txt"), summary);
        Console.WriteLine();
        Console.Write(summary);
        Console.WriteLine();
        Console.WriteLine($"Wrote {Path.Combine(_options.OutputDirectory, "soak.csv")}, soak.svg and summary.txt beside it.");
    }

    private static string Progress(SoakSample sample)
    {
        var rss = string.Join(' ', sample.Replicas.Select((r, i) => Invariant($"r{i} {(r.RssMiB is { } m ? m.ToString("N0", CultureInfo.InvariantCulture) : "-")}")));
        var disk = sample.Replicas.Any(r => r.DiskMiB is not null)
            ? "  disk MiB " + string.Join(' ', sample.Replicas.Select((r, i) => Invariant($"r{i} {r.DiskMiB:N0}")))
            : string.Empty;
        var leader = sample.Leader >= 0 ? Invariant($"r{sample.Leader}") : "-";
        return Invariant($"  {sample.ElapsedSeconds,7:0.0} s {sample.UpdatesPerSecond ?? 0,9:N0}/s  leader {leader,-2}  RSS MiB {rss}{disk}");
    }

    /// <summary><c>VmRSS</c> of process <paramref name="pid"/>, in MiB; null when it cannot be read (gone, not Linux).</summary>
    private static double? ResidentMiB(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines(Invariant($"/proc/{pid}/status")))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal)
                    && long.TryParse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var kib))
                {
                    return kib / 1024.0;
                }
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // Gone: no figure.
        }

        return null;
    }

    /// <summary>The sum of the lengths of the files under <paramref name="directory"/>, in MiB (a file removed while it is
    /// being counted counts nothing).</summary>
    private static double? DirectoryMiB(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return 0;
        }

        long bytes = 0;
        try
        {
            foreach (var file in Directory.EnumerateFiles(directory, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true }))
            {
                try
                {
                    bytes += new FileInfo(file).Length;
                }
                catch (IOException)
                {
                    // Removed meanwhile (compaction).
                }
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        return bytes / (1024.0 * 1024);
    }

    private static async Task Quietly(Task task)
    {
        try
        {
            await task.WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (Exception exception) when (exception is OperationCanceledException or TimeoutException)
        {
            // Stopped.
        }
        catch (Exception exception)
        {
            Console.WriteLine($"  ({exception.GetType().Name}: {exception.Message})");
        }
    }

    /// <summary>One status connection per replica, made again when it breaks or the replica's process changes.</summary>
    private sealed class StatusProbes(SoakRun run) : IAsyncDisposable
    {
        private readonly ReplicaClient?[] _clients = new ReplicaClient?[run.Count];
        private readonly ReplicaProcess?[] _connectedTo = new ReplicaProcess?[run.Count];

        /// <summary>Every replica's status, null for one that is down or did not answer within <paramref name="timeout"/>.</summary>
        public async Task<ReplicaStatusInfo?[]> ReadAllAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
            await Task.WhenAll(Enumerable.Range(0, run.Count).Select(i => ReadAsync(i, timeout, cancellationToken)));

        public async ValueTask DisposeAsync()
        {
            for (var i = 0; i < _clients.Length; i++)
            {
                await DropAsync(i);
            }
        }

        private async Task<ReplicaStatusInfo?> ReadAsync(int i, TimeSpan timeout, CancellationToken cancellationToken)
        {
            var process = run.Replica(i);
            if (!ReferenceEquals(_connectedTo[i], process))
            {
                await DropAsync(i);
            }

            if (process.HasExited || process.ClientEndpoint is null)
            {
                return null;
            }

            try
            {
                if (_clients[i] is not { } client)
                {
                    client = await ReplicaClient.ConnectAsync(process.ClientEndpoint, cancellationToken);
                    _clients[i] = client;
                    _connectedTo[i] = process;
                }

                return await client.StatusAsync(timeout, cancellationToken);
            }
            catch (Exception exception) when (exception is IOException or SocketException or TimeoutException)
            {
                await DropAsync(i);
                return null;
            }
        }

        private async Task DropAsync(int i)
        {
            if (_clients[i] is { } client)
            {
                await client.DisposeAsync();
            }

            _clients[i] = null;
            _connectedTo[i] = null;
        }
    }
}
