using System.Globalization;
using Microsoft.Extensions.Options;
using Paxos.Transport;

namespace Paxos.Hosting;

/// <summary>
/// The start-up checks that a node's options, its transport and its storage describe the same replica of the same
/// cluster. A node that disagrees with its transport on the cluster size counts majorities its peers do not (a node
/// of "1" leads alone beside two nodes of 3); one on another replica's id or data directory votes twice. Each
/// failure names both values.
/// </summary>
internal static class IdentityChecks
{
    /// <summary>Throws when <paramref name="transport"/> says it was built for another replica or cluster than
    /// <paramref name="options"/> describe, or carries smaller messages than the replica builds.</summary>
    /// <exception cref="OptionsValidationException">They disagree; the message names both values of each.</exception>
    public static void ThrowIfTransportDisagrees(PaxosOptions options, ITransport transport)
    {
        if (transport.Identity is not { } identity)
        {
            return; // The transport does not say: nothing to compare.
        }

        var name = transport.GetType().Name;
        var failures = new List<string>();
        if (identity.ReplicaId.Value != options.ReplicaId)
        {
            failures.Add(Say($"PaxosOptions.ReplicaId is {options.ReplicaId}, but the transport ({name}) was built for replica {identity.ReplicaId.Value}."));
        }

        if (identity.ClusterSize != options.ClusterSize)
        {
            failures.Add(Say($"PaxosOptions.ClusterSize is {options.ClusterSize}, but the transport ({name}) connects a cluster of {identity.ClusterSize}. Replicas that disagree on the cluster size disagree on what a majority is; give every replica and its transport the same size."));
        }

        if (identity.ClusterId is { } clusterId && clusterId != options.ClusterId)
        {
            failures.Add(Say($"PaxosOptions.ClusterId is {options.ClusterId}, but the transport ({name}) carries frames of cluster {clusterId}; set both to the cluster's id."));
        }

        if (identity.MaxMessageBytes is { } maxMessageBytes && options.MaxMessageBytes > maxMessageBytes)
        {
            failures.Add(Say($"PaxosOptions.MaxMessageBytes is {options.MaxMessageBytes}; it must be at most the transport's ({name}) largest message, {maxMessageBytes} bytes."));
        }

        if (failures.Count > 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(PaxosOptions), failures);
        }
    }

    private static string Say(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
