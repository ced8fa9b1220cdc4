/* su_as_agent.c: placeholder */
int main(void) { return 125; }
