using System.Diagnostics;
using System.Globalization;

namespace Paxos.Sample.Demo;

/// <summary>
/// The demo's output: every line starts with the seconds since the demo began, lines from a replica carry its
/// <c>[rN]</c> prefix (coloured on a terminal, unless <c>NO_COLOR</c> is set), and each replica may print at
/// most a few lines per second so that a misbehaving one cannot flood the screen.
/// </summary>
internal sealed class DemoConsole
{
    private const int MaxReplicaLinesPerSecond = 10;

    private static readonly string[] Colours = ["\e[36m", "\e[33m", "\e[35m", "\e[32m", "\e[34m", "\e[31m", "\e[96m"];

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly bool _colour = !Console.IsOutputRedirected && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));
    private readonly Lock _lock = new();
    private readonly Dictionary<int, (long Second, int Lines, int Suppressed)> _budget = [];
    private volatile bool _replicasMuted;

    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>A line of the demo itself.</summary>
    public void Say(string text) => Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{_clock.Elapsed.TotalSeconds,6:0.0}s  {text}"));

    /// <summary>A line without the time, for the header and the summary.</summary>
    public static void Plain(string text) => Console.Out.WriteLine(text);

    /// <summary>From now on, lines from replicas are not shown, so that they do not break into the summary.</summary>
    public void MuteReplicas() => _replicasMuted = true;

    /// <summary>A line from (or about) replica <paramref name="replica"/>, within its budget of lines per second.</summary>
    public void Replica(int replica, string text)
    {
        if (_replicasMuted)
        {
            return;
        }

        var suppressed = 0;
        lock (_lock)
        {
            var second = (long)_clock.Elapsed.TotalSeconds;
            if (!_budget.TryGetValue(replica, out var budget))
            {
                budget = (second, 0, 0);
            }

            if (budget.Second != second)
            {
                budget = (second, 0, budget.Suppressed); // A new second: a new allowance; the count of lines not shown carries over.
            }

            if (budget.Lines >= MaxReplicaLinesPerSecond)
            {
                _budget[replica] = budget with { Suppressed = budget.Suppressed + 1 };
                return;
            }

            suppressed = budget.Suppressed;
            _budget[replica] = (second, budget.Lines + 1, 0);
        }

        var more = suppressed > 0 ? string.Create(CultureInfo.InvariantCulture, $" ({suppressed} earlier lines not shown)") : string.Empty;
        Say($"{Prefix(replica)} {text}{more}");
    }

    public string Prefix(int replica)
    {
        var name = string.Create(CultureInfo.InvariantCulture, $"[r{replica}]");
        return _colour ? $"{Colours[replica % Colours.Length]}{name}\e[0m" : name;
    }
}
