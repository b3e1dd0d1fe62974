/* The resolver of broker names (sim/io/resolver.h): many requests for one
 * name at once from several threads, each answered with its own port;
 * requests dropped before their answer freed by the lookup when it ends
 * (AddressSanitizer's leak check sees any left). That requests for a name
 * being looked up share the lookup is tested against a DNS server that
 * answers slowly (test_mqtt_faults.py, FleetBrokerByName): with
 * /etc/hosts the lookup ends too soon to tell. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "resolver.h"

#define THREADS 4
#define EACH 50

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct asker {
	int first_port;
	struct sc_resolve *r[EACH];
	char why[EACH][200];
};

static void *ask(void *arg)
{
	struct asker *a = arg;
	for (int i = 0; i < EACH; i++)
		a->r[i] = sc_resolve_start("localhost", a->first_port + i, a->why[i], sizeof a->why[i]);
	return NULL;
}

/* Every lookup started has ended, within 10 s. */
static void all_lookups_end(void)
{
	int64_t dl = now_ms() + 10000;
	struct sc_resolve_stats st;
	for (sc_resolve_stats(&st); st.running > 0 && now_ms() < dl; sc_resolve_stats(&st)) {
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, NULL);
	}
	cr_assert_eq(st.running, 0, "%u lookups still running after 10 s", st.running);
}

Test(resolver, requests_from_threads_each_answered_with_their_port)
{
	struct sc_resolve_stats before, after;
	sc_resolve_stats(&before);
	static struct asker as[THREADS];
	pthread_t th[THREADS];
	for (int t = 0; t < THREADS; t++) {
		as[t].first_port = 10000 + t * 1000;
		cr_assert_eq(pthread_create(&th[t], NULL, ask, &as[t]), 0);
	}
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	int answered = 0;
	bool got[THREADS][EACH] = {{false}};
	int64_t dl = now_ms() + 10000;
	while (answered < THREADS * EACH && now_ms() < dl) {
		struct pollfd p[THREADS * EACH];
		int n = 0;
		for (int t = 0; t < THREADS; t++)
			for (int i = 0; i < EACH; i++) {
				cr_assert_not_null(as[t].r[i], "%s", as[t].why[i]);
				p[n++] = (struct pollfd){got[t][i] ? -1 : sc_resolve_fd(as[t].r[i]), POLLIN, 0};
			}
		cr_assert_geq(poll(p, (nfds_t)n, 100), 0);
		for (int t = 0; t < THREADS; t++)
			for (int i = 0; i < EACH; i++) {
				if (got[t][i] || !(p[t * EACH + i].revents & POLLIN))
					continue;
				struct sockaddr_storage sa;
				socklen_t len = 0;
				char why[200] = "";
				int rc = sc_resolve_answer(as[t].r[i], &sa, &len, why, sizeof why);
				cr_assert_eq(rc, 1, "localhost: %d %s", rc, why);
				int port = as[t].first_port + i;
				if (sa.ss_family == AF_INET) {
					const struct sockaddr_in *v4 = (const struct sockaddr_in *)&sa;
					cr_assert_eq(len, sizeof *v4);
					cr_assert_eq(ntohs(v4->sin_port), port);
					cr_assert_eq(ntohl(v4->sin_addr.s_addr), INADDR_LOOPBACK);
				} else {
					const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&sa;
					cr_assert_eq(sa.ss_family, AF_INET6);
					cr_assert_eq(ntohs(v6->sin6_port), port);
					cr_assert(IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr));
				}
				/* Read once more: the same answer. */
				cr_assert_eq(sc_resolve_answer(as[t].r[i], &sa, &len, why, sizeof why), 1);
				got[t][i] = true;
				answered++;
			}
	}
	cr_assert_eq(answered, THREADS * EACH, "%d of %d answered within 10 s", answered, THREADS * EACH);
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < EACH; i++) {
			cr_assert_str_eq(sc_resolve_host(as[t].r[i]), "localhost");
			sc_resolve_drop(as[t].r[i]);
		}
	all_lookups_end();
	sc_resolve_stats(&after);
	cr_assert_eq(after.requests - before.requests, THREADS * EACH);
	cr_assert_geq(after.lookups - before.lookups, 1);
	cr_assert_leq(after.lookups - before.lookups, THREADS * EACH);
}

Test(resolver, requests_dropped_before_their_answer)
{
	struct sc_resolve *r[EACH];
	char why[200];
	for (int i = 0; i < EACH; i++) {
		r[i] = sc_resolve_start("localhost", 1883, why, sizeof why);
		cr_assert_not_null(r[i], "%s", why);
	}
	/* Half dropped at once, half after their answer. */
	for (int i = 0; i < EACH; i += 2)
		sc_resolve_drop(r[i]);
	for (int i = 1; i < EACH; i += 2) {
		struct pollfd p = {sc_resolve_fd(r[i]), POLLIN, 0};
		cr_assert_eq(poll(&p, 1, 10000), 1, "no answer within 10 s");
		struct sockaddr_storage sa;
		socklen_t len;
		cr_assert_eq(sc_resolve_answer(r[i], &sa, &len, why, sizeof why), 1, "%s", why);
		sc_resolve_drop(r[i]);
	}
	sc_resolve_drop(NULL);
	all_lookups_end();
}
