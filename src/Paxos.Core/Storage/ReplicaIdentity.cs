using System.Globalization;

namespace Paxos.Storage;

/// <summary>
/// Which replica of which cluster a data directory belongs to: the cluster id, the cluster size (the members are
/// replicas 0 to N − 1) and the replica id. <see cref="FileReplicaStorage"/> records it in the directory when it
/// first starts there and refuses, from then on, to start as any other.
/// </summary>
/// <param name="ClusterId">The cluster's id (<see cref="PaxosOptions.ClusterId"/>).</param>
/// <param name="ClusterSize">The number of replicas, from 1 to 64 (<see cref="PaxosOptions.ClusterSize"/>).</param>
/// <param name="ReplicaId">This replica, from 0 to <paramref name="ClusterSize"/> − 1 (<see cref="PaxosOptions.ReplicaId"/>).</param>
public sealed record ReplicaIdentity(uint ClusterId, int ClusterSize, ReplicaId ReplicaId)
{
    /// <summary>"replica 1 of cluster 7 (3 replicas)".</summary>
    /// <returns>The identity, for messages.</returns>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"replica {ReplicaId.Value} of cluster {ClusterId} ({ClusterSize} replicas)");
}
