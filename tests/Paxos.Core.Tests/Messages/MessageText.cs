using System.Globalization;
using System.Text;
using Paxos.Messages;

namespace Paxos.Tests.Messages;

/// <summary>Describes a message completely — its one-line description plus every field, including each
/// update's origin and payload bytes — so two messages can be compared field by field.</summary>
internal static class MessageText
{
    public static string Full(PaxosMessage message)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{message.GetType().Name} type={message.Type} from={message.Sender.Value} \"{message}\"");
        switch (message)
        {
            case ViewChange m:
                text.Append(CultureInfo.InvariantCulture, $" attempted={m.Attempted.Value}");
                break;
            case VcProof m:
                text.Append(CultureInfo.InvariantCulture, $" installed={m.Installed.Value} constrained={m.ConstrainedThrough.Value}");
                break;
            case RebuildQuery m:
                text.Append(CultureInfo.InvariantCulture, $" nonce={m.Nonce} floor={m.Floor.Value}");
                break;
            case RebuildReply m:
                text.Append(CultureInfo.InvariantCulture, $" nonce={m.Nonce} attempted={m.LastAttempted.Value} installed={m.LastInstalled.Value} leader-proposed={m.LeaderLastProposed.Value}");
                break;
            case Prepare m:
                text.Append(CultureInfo.InvariantCulture, $" view={m.View.Value} aru={m.LocalAru.Value}");
                break;
            case PrepareReject m:
                text.Append(CultureInfo.InvariantCulture, $" view={m.View.Value} aru={m.LocalAru.Value}");
                break;
            case Alive m:
                text.Append(CultureInfo.InvariantCulture, $" aru={m.LocalAru.Value} installed={m.LastInstalled.Value}");
                break;
            case CatchUpRequest m:
                text.Append(CultureInfo.InvariantCulture, $" from={m.FromSequence.Value} to={m.ToSequence.Value}");
                break;
            case Accept m:
                text.Append(CultureInfo.InvariantCulture, $" view={m.View.Value} first={m.FirstSequence.Value} last={m.LastSequence.Value}");
                break;
            case Proposal m:
                text.Append(CultureInfo.InvariantCulture, $" view={m.View.Value} first={m.FirstSequence.Value}");
                AppendUpdates(text, m.Updates);
                break;
            case GloballyOrderedUpdate m:
                text.Append(CultureInfo.InvariantCulture, $" first={m.FirstSequence.Value}");
                AppendUpdates(text, m.Updates);
                break;
            case ClientUpdateForward m:
                AppendUpdates(text, m.Updates);
                break;
            case PrepareOk m:
                text.Append(CultureInfo.InvariantCulture, $" view={m.View.Value} part={m.Part} parts={m.PartCount} rebuilding={m.Rebuilding} entries={m.Entries.Count}");
                foreach (var entry in m.Entries)
                {
                    text.Append(CultureInfo.InvariantCulture, $" (seq={entry.Sequence.Value} view={entry.View.Value} ordered={entry.IsOrdered} ");
                    text.Append(Full(entry.Update)).Append(')');
                }

                break;
            case SnapshotChunk m:
                text.Append(CultureInfo.InvariantCulture, $" seq={m.Sequence.Value} total={m.TotalBytes} offset={m.Offset} data={Convert.ToHexString(m.Data.Span)}");
                break;
            case SnapshotChunkRequest m:
                text.Append(CultureInfo.InvariantCulture, $" seq={m.Sequence.Value} offset={m.Offset}");
                break;
            case ReadConfirmRequest m:
                text.Append(CultureInfo.InvariantCulture, $" view={m.View.Value} round={m.Round}");
                break;
            case ReadConfirm m:
                text.Append(CultureInfo.InvariantCulture, $" view={m.View.Value} round={m.Round} lease={m.LeaseTicks}");
                break;
            case ReadIndexRequest m:
                text.Append(CultureInfo.InvariantCulture, $" view={m.View.Value} read={m.RequestId}");
                break;
            case ReadIndexReply m:
                text.Append(CultureInfo.InvariantCulture, $" view={m.View.Value} read={m.RequestId} index={m.Index.Value}");
                break;
            default:
                throw new ArgumentException($"No description for {message.GetType().Name}.", nameof(message));
        }

        return text.ToString();
    }

    public static string Full(ClientUpdate update) => string.Create(
        CultureInfo.InvariantCulture,
        $"{{{update} client={update.ClientId.Value} ts={update.Timestamp} origin={update.Origin.Value} noop={update.IsNoOp} payload={Convert.ToHexString(update.Payload.Span)}}}");

    /// <summary>Asserts that two messages are the same message, field by field.</summary>
    public static void ShouldMatch(PaxosMessage actual, PaxosMessage expected)
    {
        actual.GetType().Should().Be(expected.GetType());
        actual.Sender.Should().Be(expected.Sender);
        actual.ToString().Should().Be(expected.ToString());
        Full(actual).Should().Be(Full(expected));
    }

    private static void AppendUpdates(StringBuilder text, IReadOnlyList<ClientUpdate> updates)
    {
        text.Append(CultureInfo.InvariantCulture, $" count={updates.Count}");
        foreach (var update in updates)
        {
            text.Append(' ').Append(Full(update));
        }
    }
}
