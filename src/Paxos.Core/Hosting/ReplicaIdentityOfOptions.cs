using Paxos.Storage;

namespace Paxos.Hosting;

/// <summary>Reads a <see cref="ReplicaIdentity"/> from a node's options. Here, with the host, rather than on
/// <see cref="ReplicaIdentity"/>: storage does not know the host's options.</summary>
internal static class ReplicaIdentityOfOptions
{
    extension(ReplicaIdentity)
    {
        /// <summary>The identity <paramref name="options"/> describe.</summary>
        /// <param name="options">A node's options.</param>
        /// <returns>Their cluster id, cluster size and replica id.</returns>
        public static ReplicaIdentity From(PaxosOptions options)
        {
            ArgumentNullException.ThrowIfNull(options);
            return new ReplicaIdentity(options.ClusterId, options.ClusterSize, new ReplicaId(options.ReplicaId));
        }
    }
}
