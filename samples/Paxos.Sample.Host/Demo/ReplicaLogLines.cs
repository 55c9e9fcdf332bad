using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace Paxos.Sample.Demo;

/// <summary>
/// Picks the replica log lines worth showing in the demo — role changes, leaders elected, failures — out of
/// everything a replica logs, and shortens them (the <c>[rN]</c> prefix already says which replica).
/// </summary>
internal static partial class ReplicaLogLines
{
    // Event ids of the library's Log.cs: leader election (1000), installed as non-leader (1002), rejoined (1003),
    // rebuilding lost state (1004-1006), leading a view (1101), fail-stop (1900, 2002); and the sample's load runs
    // (5004, 5005), data directory and recovery (5007-5010).
    private static readonly HashSet<int> Shown = [1000, 1002, 1003, 1004, 1005, 1006, 1101, 1900, 2002, 5004, 5005, 5007, 5008, 5009, 5010, 5011];

    /// <summary>The text to show for a log entry, or null to leave it out.</summary>
    public static string? Select(LogLevel level, int eventId, string message)
    {
        if (level < LogLevel.Warning && !Shown.Contains(eventId))
        {
            return null;
        }

        var text = ReplicaPrefix().Replace(message, string.Empty, 1);
        return level >= LogLevel.Warning ? $"{level.ToString().ToUpperInvariant()}: {text}" : text;
    }

    /// <summary>Picks from a line a child replica printed with the console logger's single-line format,
    /// <c>info: Paxos.Protocol.PaxosReplica[1101] Replica 1: leading view 1; …</c>; other lines (a runtime's crash report,
    /// say) are shown whole.</summary>
    public static string? SelectChildLine(string line)
    {
        var match = ConsoleLine().Match(line);
        if (!match.Success)
        {
            return line.Length == 0 ? null : line;
        }

        var level = match.Groups["level"].Value switch
        {
            "trce" => LogLevel.Trace,
            "dbug" => LogLevel.Debug,
            "info" => LogLevel.Information,
            "warn" => LogLevel.Warning,
            "fail" => LogLevel.Error,
            _ => LogLevel.Critical,
        };
        return int.TryParse(match.Groups["id"].ValueSpan, out var eventId) ? Select(level, eventId, match.Groups["message"].Value) : line;
    }

    [GeneratedRegex(@"^(?<level>trce|dbug|info|warn|fail|crit): [^\[]*\[(?<id>\d+)\] (?<message>.*)$")]
    private static partial Regex ConsoleLine();

    [GeneratedRegex(@"^(Replica|Node) \d+:? ")]
    private static partial Regex ReplicaPrefix();
}
