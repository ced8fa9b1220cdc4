/*
 * hostaddr.c: the host's interface addresses (see hostaddr.h).
 *
 * getifaddrs talks netlink; it opens no file. Interface broadcast addresses
 * go in the set as well: a directed broadcast reaches the host too.
 */
#include "hostaddr.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <pthread.h>
#include <sys/socket.h>

#include "addr.h"
#include "log.h"

static pthread_mutex_t hostaddr_lock = PTHREAD_MUTEX_INITIALIZER;
static struct addr_set hostaddr_set = ADDR_SET_INIT;
static int64_t hostaddr_time;

static void add_sockaddr(struct addr_set *set, const struct sockaddr *sa)
{
	struct in6_addr addr;
	uint16_t port;
	socklen_t len;

	if (!sa)
		return;
	if (sa->sa_family == AF_INET)
		len = sizeof(struct sockaddr_in);
	else if (sa->sa_family == AF_INET6)
		len = sizeof(struct sockaddr_in6);
	else
		return;
	if (addr_from_sockaddr(sa, len, &addr, &port) == 0)
		addr_set_add(set, &addr);
}

int hostaddr_refresh(void)
{
	struct addr_set fresh = ADDR_SET_INIT, old;
	struct ifaddrs *list;

	if (getifaddrs(&list) < 0)
		return -1;
	for (struct ifaddrs *ifa = list; ifa; ifa = ifa->ifa_next) {
		add_sockaddr(&fresh, ifa->ifa_addr);
		if (ifa->ifa_flags & IFF_BROADCAST)
			add_sockaddr(&fresh, ifa->ifa_broadaddr);
	}
	freeifaddrs(list);

	pthread_mutex_lock(&hostaddr_lock);
	old = hostaddr_set;
	hostaddr_set = fresh;
	hostaddr_time = log_now_ms();
	pthread_mutex_unlock(&hostaddr_lock);
	addr_set_release(&old);
	return 0;
}

bool hostaddr_contains(const struct in6_addr *addr)
{
	bool found;

	pthread_mutex_lock(&hostaddr_lock);
	found = addr_set_contains(&hostaddr_set, addr);
	pthread_mutex_unlock(&hostaddr_lock);
	return found;
}

int64_t hostaddr_refreshed_at(void)
{
	int64_t t;

	pthread_mutex_lock(&hostaddr_lock);
	t = hostaddr_time;
	pthread_mutex_unlock(&hostaddr_lock);
	return t;
}
