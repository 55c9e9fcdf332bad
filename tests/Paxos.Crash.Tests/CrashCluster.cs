using System.Diagnostics;
using System.Globalization;
using Paxos.Sample;
using Paxos.Sample.Processes;
using Paxos.Sample.Protocol;
using Paxos.Sample.Replica;

namespace Paxos.Crash.Tests;

/// <summary>
/// Replica processes of the sample host on 127.0.0.1, each with its own data directory under <see cref="Root"/>
/// (<c>r0</c>, <c>r1</c>, …) and its output appended to <c>rN.log</c> there, across restarts. A replica can be killed
/// with SIGKILL and restarted on the same ports and directory, or frozen with SIGSTOP and thawed with SIGCONT.
/// Status and history are asked on a fresh connection each time, so a replica that died or froze costs one timeout.
/// </summary>
internal sealed class CrashCluster : IAsyncDisposable
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan HistoryPageTimeout = TimeSpan.FromSeconds(10);

    private readonly ReplicaProcess[] _replicas;
    private readonly bool[] _paused;
    private readonly LogFile[] _logs;

    private CrashCluster(string root, ReplicaProcess[] replicas, LogFile[] logs)
    {
        Root = root;
        _replicas = replicas;
        _logs = logs;
        _paused = new bool[replicas.Length];
    }

    public string Root { get; }

    public int Size => _replicas.Length;

    /// <summary>Starts <paramref name="size"/> replicas of the sample host built beside this test, each also given
    /// <paramref name="arguments"/> (on every restart too), and waits until each listens.</summary>
    public static async Task<CrashCluster> StartAsync(string root, int size, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(root);
        var clock = Stopwatch.StartNew();
        var logs = Enumerable.Range(0, size).Select(r => new LogFile(Path.Combine(root, Name(r) + ".log"), clock)).ToArray();
        var command = LaunchCommand.ForAssembly(typeof(ReplicaHost).Assembly.Location);
        var replicas = await ClusterLauncher.StartAsync(
            command,
            size,
            r => ["--data-dir", Path.Combine(root, Name(r)), .. arguments],
            (r, line) => logs[r].Write(line),
            new Dictionary<string, string> { ["DOTNET_gcServer"] = "0" },
            cancellationToken);
        return new CrashCluster(root, replicas, logs);
    }

    public int ProcessId(int replica) => _replicas[replica].ProcessId;

    /// <summary>Where the replica's Paxos.Client listener takes clients.</summary>
    public System.Net.IPEndPoint ListenerEndpoint(int replica) =>
        _replicas[replica].ListenerEndpoint ?? throw new InvalidOperationException($"Replica {replica} reported no listener.");

    public bool IsRunning(int replica) => !_replicas[replica].HasExited && !_paused[replica];

    /// <summary>Notes an event in the replica's log, so that its own lines read in context.</summary>
    public void Note(int replica, string text) => _logs[replica].Write($"=== {text}");

    /// <summary>kill -9, and waits (bounded) until the process is gone, so its directory lock is released.</summary>
    public async Task KillAsync(int replica)
    {
        Note(replica, $"nemesis: kill -9 pid {ProcessId(replica)}");
        Signals.Kill(ProcessId(replica));
        _paused[replica] = false;
        await _replicas[replica].WaitForExitAsync(ExitTimeout);
        if (!_replicas[replica].HasExited)
        {
            throw new InvalidOperationException($"Replica {replica} (pid {ProcessId(replica)}) did not exit within {ExitTimeout.TotalSeconds} s of SIGKILL.");
        }
    }

    /// <summary>Starts a killed replica again from its data directory, on its ports, and waits until it listens.</summary>
    public async Task RestartAsync(int replica, CancellationToken cancellationToken)
    {
        Note(replica, "nemesis: restart from the data directory");
        var restarted = await ClusterLauncher.RelaunchAsync(_replicas[replica], flags: null, cancellationToken);
        _replicas[replica].Dispose();
        _replicas[replica] = restarted;
        Note(replica, $"running again as pid {restarted.ProcessId}");
    }

    public void Pause(int replica)
    {
        Note(replica, $"nemesis: SIGSTOP pid {ProcessId(replica)}");
        Signals.Stop(ProcessId(replica));
        _paused[replica] = true;
    }

    public void Resume(int replica)
    {
        Signals.Continue(ProcessId(replica));
        _paused[replica] = false;
        Note(replica, $"nemesis: SIGCONT pid {ProcessId(replica)}");
    }

    /// <summary>Every replica up and running: the exited restarted, the frozen thawed.</summary>
    public async Task HealAsync(CancellationToken cancellationToken)
    {
        for (var r = 0; r < Size; r++)
        {
            if (_replicas[r].HasExited)
            {
                await RestartAsync(r, cancellationToken);
            }
            else if (_paused[r])
            {
                Resume(r);
            }
        }
    }

    /// <summary>Opens a connection to the replica's client port.</summary>
    /// <exception cref="System.Net.Sockets.SocketException">Nothing listens there (the replica is down).</exception>
    /// <exception cref="TimeoutException">The connection did not complete in time.</exception>
    public Task<ReplicaClient> ConnectAsync(int replica, CancellationToken cancellationToken) =>
        ReplicaClient.ConnectAsync(_replicas[replica].ClientEndpoint!, cancellationToken);

    /// <summary>The replica's status, or null when it does not answer within <paramref name="timeout"/>.</summary>
    public async Task<ReplicaStatusInfo?> TryStatusAsync(int replica, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (_replicas[replica].HasExited)
        {
            return null;
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await using var client = await ConnectAsync(replica, deadline.Token);
            return await client.StatusAsync(timeout, deadline.Token);
        }
        catch (Exception exception) when (exception is IOException or System.Net.Sockets.SocketException or TimeoutException
            || (exception is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return null;
        }
    }

    /// <summary>Every update the replica executed, in order.</summary>
    public async Task<List<ExecutedEntry>> HistoryAsync(int replica, CancellationToken cancellationToken)
    {
        await using var client = await ConnectAsync(replica, cancellationToken);
        return await client.ReadHistoryAsync(1, maxEntries: 50_000_000, HistoryPageTimeout, cancellationToken);
    }

    public ValueTask DisposeAsync()
    {
        ClusterLauncher.DisposeAll(_replicas); // SIGKILL ends a frozen process too.
        foreach (var log in _logs)
        {
            log.Dispose();
        }

        return ValueTask.CompletedTask;
    }

    public static string Name(int replica) => string.Create(CultureInfo.InvariantCulture, $"r{replica}");

    /// <summary>One replica's output, every line stamped with the seconds since the cluster started.</summary>
    private sealed class LogFile(string path, Stopwatch clock) : IDisposable
    {
        private readonly StreamWriter _writer = new(path, append: true) { AutoFlush = true };
        private readonly Lock _lock = new();
        private bool _disposed;

        public void Write(string line)
        {
            lock (_lock)
            {
                if (!_disposed)
                {
                    _writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{clock.Elapsed.TotalSeconds,8:0.000}s {line}"));
                }
            }
        }

        public void Dispose()
        {
            lock (_lock)
            {
                _disposed = true;
                _writer.Dispose();
            }
        }
    }
}
