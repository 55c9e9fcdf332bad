namespace Paxos.Transport;

/// <summary>
/// The replica and cluster a transport was built for (<see cref="ITransport.Identity"/>). <see cref="PaxosNode"/>
/// compares it with its own <see cref="PaxosOptions"/> when it is built and refuses a transport that disagrees: a
/// node whose transport frames its messages for another replica, another cluster size or another cluster would
/// count votes, and majorities, that its peers do not.
/// </summary>
/// <param name="ReplicaId">The replica whose messages the transport sends and receives.</param>
/// <param name="ClusterSize">The number of replicas the transport connects (members 0 to N − 1).</param>
/// <param name="ClusterId">The cluster id the transport's frames carry; null when the transport has none (an
/// in-process transport), and then it is not compared.</param>
/// <param name="MaxMessageBytes">The largest message body the transport carries; null when it has no limit. The
/// node's <see cref="PaxosOptions.MaxMessageBytes"/> must not exceed it.</param>
public sealed record TransportIdentity(ReplicaId ReplicaId, int ClusterSize, uint? ClusterId = null, int? MaxMessageBytes = null);
