using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using Paxos.Sample.Replica;

namespace Paxos.Sample.Processes;

/// <summary>
/// One replica running as a child process. Its standard output and error come back line by line to a callback;
/// its standard input stays open and is never written: the child exits when it reads end-of-file there, which
/// happens when this process dies, however it dies — so no replica outlives the program that started it.
/// </summary>
internal sealed class ReplicaProcess : IDisposable
{
    private const int TailLines = 20;

    private static readonly ConcurrentDictionary<ReplicaProcess, byte> Live = new();
    private static int _exitHookInstalled;

    private readonly Process _process;
    private readonly TaskCompletionSource<bool> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentQueue<string> _tail = new();
    private readonly Action<int, string> _onLine;
    private readonly LaunchCommand _command;
    private readonly IReadOnlyList<string> _arguments;
    private readonly IReadOnlyDictionary<string, string>? _environment;

    private ReplicaProcess(int id, Process process, Action<int, string> onLine, LaunchCommand command, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string>? environment)
    {
        Id = id;
        _process = process;
        _onLine = onLine;
        _command = command;
        _arguments = arguments;
        _environment = environment;
    }

    public int Id { get; }

    public int ProcessId { get; private set; }

    /// <summary>Where the replica listens for peers; known once it is ready.</summary>
    public IPEndPoint? UdpEndpoint { get; private set; }

    /// <summary>Where the replica takes clients; known once it is ready.</summary>
    public IPEndPoint? ClientEndpoint { get; private set; }

    /// <summary>Where the replica's Paxos.Client listener takes clients; known once it is ready.</summary>
    public IPEndPoint? ListenerEndpoint { get; private set; }

    public bool HasExited
    {
        get
        {
            try
            {
                return _process.HasExited;
            }
            catch (InvalidOperationException)
            {
                return true;
            }
        }
    }

    public int? ExitCode => HasExited ? SafeExitCode() : null;

    /// <summary>The last lines the child printed, for an error report.</summary>
    public string Tail => string.Join(Environment.NewLine, _tail);

    /// <summary>Starts <paramref name="command"/> with <paramref name="arguments"/>; <paramref name="onLine"/> gets
    /// every line it prints except the ready line.</summary>
    public static ReplicaProcess Start(LaunchCommand command, int id, IEnumerable<string> arguments, Action<int, string> onLine, IReadOnlyDictionary<string, string>? environment = null)
    {
        var argumentList = arguments.ToArray();
        InstallExitHook();
        var info = new ProcessStartInfo(command.FileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        foreach (var argument in command.Prefix.Concat(argumentList))
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["NO_COLOR"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var replica = new ReplicaProcess(id, process, onLine, command, argumentList, environment);
        process.OutputDataReceived += (_, e) => replica.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => replica.OnLine(e.Data);
        process.Exited += (_, _) => replica._ready.TrySetResult(false);
        Live[replica] = 0;
        process.Start();
        replica.ProcessId = process.Id;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return replica;
    }

    /// <summary>Starts the same replica again — same program, arguments (ports, data directory) and environment — as a
    /// new process, as an operator restarts a crashed one. This one must have exited.</summary>
    /// <param name="flags">Flags to add, such as <c>--rebuild</c>; those already given are not repeated.</param>
    /// <exception cref="InvalidOperationException">This process is still running.</exception>
    public ReplicaProcess Relaunch(IReadOnlyList<string>? flags = null)
    {
        if (!HasExited)
        {
            throw new InvalidOperationException($"Replica {Id} (pid {ProcessId}) is still running; kill it first.");
        }

        var arguments = _arguments.Concat((flags ?? []).Where(flag => !_arguments.Contains(flag))).ToArray();
        return Start(_command, Id, arguments, _onLine, _environment);
    }

    /// <summary>True once the child printed its ready line; false if it exited first or <paramref name="timeout"/> passed.</summary>
    public async Task<bool> WaitReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            return await _ready.Task.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>Kills the child and everything it started, at once (a crash, as far as its peers can tell).</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (Exception exception) when (exception is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            // It exited meanwhile, or was never started.
        }
    }

    /// <summary>Waits (bounded) for the child to be gone.</summary>
    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (Exception exception) when (exception is TimeoutException or InvalidOperationException)
        {
            // Reported by HasExited.
        }
    }

    public void Dispose()
    {
        Kill();
        Live.TryRemove(this, out _);
        _process.Dispose();
    }

    /// <summary>Kills every child still running; for the paths that do not unwind (process exit, a second Ctrl+C).</summary>
    public static void KillAll()
    {
        foreach (var replica in Live.Keys)
        {
            replica.Kill();
        }
    }

    private static void InstallExitHook()
    {
        if (Interlocked.Exchange(ref _exitHookInstalled, 1) == 0)
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        if (line.StartsWith(ReplicaHost.ReadyPrefix, StringComparison.Ordinal) && !_ready.Task.IsCompleted)
        {
            ParseReady(line);
            _ready.TrySetResult(UdpEndpoint is not null && ClientEndpoint is not null);
            return;
        }

        _tail.Enqueue(line);
        while (_tail.Count > TailLines && _tail.TryDequeue(out _))
        {
        }

        _onLine(Id, line);
    }

    private void ParseReady(string line)
    {
        foreach (var field in line[ReplicaHost.ReadyPrefix.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = field.IndexOf('=', StringComparison.Ordinal);
            var (name, value) = equals > 0 ? (field[..equals], field[(equals + 1)..]) : (field, string.Empty);
            switch (name)
            {
                case "udp" when IPEndPoint.TryParse(value, out var udp):
                    UdpEndpoint = udp;
                    break;
                case "client" when IPEndPoint.TryParse(value, out var client):
                    ClientEndpoint = client;
                    break;
                case "listener" when IPEndPoint.TryParse(value, out var listener):
                    ListenerEndpoint = listener;
                    break;
                case "pid" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var pid):
                    ProcessId = pid;
                    break;
                default:
                    break;
            }
        }
    }

    private int? SafeExitCode()
    {
        try
        {
            return _process.ExitCode;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }
}
