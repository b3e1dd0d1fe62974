/* The private broker of test runs (sim/runner/broker.h) against a real
 * mosquitto: up on a port of its own, restarted on the same port (a broker
 * outage), a port that is taken refused rather than taken for its own, and
 * brokers started at once in threads (as ctest -j starts runs) each on a
 * port of its own with its own process listening there. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"

static bool answers(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof sa) == 0;
	if (s >= 0)
		close(s);
	return ok;
}

/* An MQTT CONNECT answered by a CONNACK: a broker, not just a socket. */
static bool is_broker(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct timeval tv = {5, 0};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	/* MQTT 3.1.1 CONNECT, clean session, keep-alive 10 s, client id "t". */
	static const unsigned char connect_pkt[] = {0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 10,
						    0, 1, 't'};
	unsigned char ack[4] = {0};
	bool ok = s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof sa) == 0 &&
		  write(s, connect_pkt, sizeof connect_pkt) == (ssize_t)sizeof connect_pkt &&
		  read(s, ack, sizeof ack) == 4 && ack[0] == 0x20 && ack[1] == 2 && ack[3] == 0;
	if (s >= 0)
		close(s);
	return ok;
}

static bool running(pid_t pid)
{
	return pid > 0 && waitpid(pid, NULL, WNOHANG) == 0;
}

Test(broker, up_stopped_and_up_again_on_its_port)
{
	struct sc_broker_proc b;
	char why[256] = "";
	cr_assert_eq(sc_broker_start(&b, why, sizeof why), 0, "%s", why);
	cr_assert_gt(b.port, 0);
	char url[96];
	snprintf(url, sizeof url, "tcp://127.0.0.1:%d", b.port);
	cr_assert_str_eq(b.url, url);
	cr_assert(is_broker(b.port));
	int port = b.port;
	sc_broker_stop(&b);
	cr_assert_eq(b.pid, 0);
	cr_assert_not(answers(port), "port %d still answers after the stop", port);
	cr_assert_eq(access(b.conf, F_OK) == 0 && b.conf[0], false);
	/* A broker outage: the device was told this port. */
	cr_assert_eq(sc_broker_start_at(&b, "127.0.0.1", port, why, sizeof why), 0, "%s", why);
	cr_assert_eq(b.port, port);
	cr_assert(is_broker(port));
	sc_broker_stop(&b);
}

Test(broker, a_taken_port_is_refused)
{
	/* Something else listens on the port: it must not pass for the broker. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof sa;
	cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
	cr_assert_eq(listen(s, 8), 0);
	cr_assert_eq(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	int port = ntohs(sa.sin_port);
	struct sc_broker_proc b;
	char why[256] = "";
	cr_assert_eq(sc_broker_start_at(&b, "127.0.0.1", port, why, sizeof why), -1,
		     "a broker 'started' on port %d, which another socket holds", port);
	cr_assert(strstr(why, "in use") != NULL, "%s", why);
	cr_assert_eq(b.pid, 0);
	cr_assert_eq(b.conf[0], '\0');
	close(s);
}

Test(broker, not_an_address_of_this_machine)
{
	struct sc_broker_proc b;
	char why[256] = "";
	cr_assert_eq(sc_broker_start_at(&b, "0.0.0.0", 0, why, sizeof why), -1);
	cr_assert(strstr(why, "not an IPv4 address") != NULL, "%s", why);
	cr_assert_eq(sc_broker_start_at(&b, "localhost", 0, why, sizeof why), -1);
}

#define THREADS 4
#define ROUNDS 12

struct starter {
	pthread_barrier_t *go;
	struct sc_broker_proc b;
	int rc;
	char why[256];
};

static void *start_one(void *arg)
{
	struct starter *st = arg;
	pthread_barrier_wait(st->go);
	st->rc = sc_broker_start(&st->b, st->why, sizeof st->why);
	return NULL;
}

Test(broker, started_at_once_each_on_its_own_port, .timeout = 240)
{
	for (int round = 0; round < ROUNDS; round++) {
		pthread_barrier_t go;
		pthread_barrier_init(&go, NULL, THREADS);
		struct starter st[THREADS];
		pthread_t th[THREADS];
		memset(st, 0, sizeof st);
		for (int i = 0; i < THREADS; i++) {
			st[i].go = &go;
			cr_assert_eq(pthread_create(&th[i], NULL, start_one, &st[i]), 0);
		}
		for (int i = 0; i < THREADS; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&go);
		/* A broker that lost its port exits a moment after. */
		struct timespec ts = {0, 100000000};
		nanosleep(&ts, NULL);
		for (int i = 0; i < THREADS; i++) {
			cr_assert_eq(st[i].rc, 0, "round %d: %s", round, st[i].why);
			cr_assert(running(st[i].b.pid), "round %d: the broker on %d is gone", round,
				  st[i].b.port);
			cr_assert(is_broker(st[i].b.port), "round %d: no broker on %d", round,
				  st[i].b.port);
			for (int j = 0; j < i; j++)
				cr_assert_neq(st[i].b.port, st[j].b.port, "round %d: two brokers on %d",
					      round, st[i].b.port);
		}
		for (int i = 0; i < THREADS; i++) {
			int port = st[i].b.port;
			sc_broker_stop(&st[i].b);
			/* Its own process listened there: stopped, nothing answers. */
			cr_assert_not(answers(port), "round %d: %d answers after its broker stopped", round,
				      port);
		}
	}
}
