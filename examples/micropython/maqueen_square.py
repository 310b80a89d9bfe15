# maqueen_square.py - a DFRobot Maqueen drives a square (micro:bit). Its motors sit behind the
# I2C address 0x10: register 0 the left motor, 2 the right one, then [direction, speed 0..255].
from microbit import i2c, sleep, display, Image

def motors(left, right):
    """Wheel speeds -255..255 (negative: backwards)."""
    i2c.write(0x10, bytes([0, 0 if left >= 0 else 1, abs(left)]))
    i2c.write(0x10, bytes([2, 0 if right >= 0 else 1, abs(right)]))

display.show(Image.HAPPY)
try:
    for side in range(4):
        print("side", side + 1)
        motors(120, 120)
        sleep(600)
        motors(100, -100)  # a quarter turn on the spot
        sleep(300)
finally:
    motors(0, 0)  # whatever happens, the motors stop
print("square done")
